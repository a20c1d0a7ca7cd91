from connectors.base.urls import connect_urlpatterns

from .provider import KrakenProvider

urlpatterns = connect_urlpatterns(KrakenProvider)
