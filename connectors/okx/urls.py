from connectors.base.urls import connect_urlpatterns

from .provider import OKXProvider

urlpatterns = connect_urlpatterns(OKXProvider)
