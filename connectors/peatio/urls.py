from connectors.base.urls import connect_urlpatterns

from .provider import PeatioProvider

urlpatterns = connect_urlpatterns(PeatioProvider)
