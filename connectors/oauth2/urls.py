from connectors.base.urls import connect_urlpatterns

from .provider import GenericOAuth2Provider

urlpatterns = connect_urlpatterns(GenericOAuth2Provider)
