from connectors.base.urls import connect_urlpatterns

from .provider import KuCoinProvider

urlpatterns = connect_urlpatterns(KuCoinProvider)
