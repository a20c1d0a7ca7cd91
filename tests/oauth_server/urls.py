from django.contrib.auth.views import LoginView
from django.urls import include, path
from oauth2_provider import urls as oauth2_urls

urlpatterns = [
    path("accounts/login/", LoginView.as_view(), name="login"),
    # The issuer is <origin>/o: RFC 8414 §3.1 puts its metadata at /.well-known/oauth-authorization-server/o.
    path("", include((oauth2_urls.metadata_urlpatterns, "oauth2_provider_metadata"))),
    path("o/", include("oauth2_provider.urls")),
]
