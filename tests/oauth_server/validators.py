"""django-oauth-toolkit takes HTTP Basic or body credentials from any client. Real servers register one method
per client (RFC 7591's token_endpoint_auth_method) and RFC 6749 §2.3 forbids using more than one in a request;
this validator, added here for the tests, holds each client to its registered method."""

from django.conf import settings
from oauth2_provider.oauth2_validators import OAuth2Validator


class RegisteredClientAuthenticationValidator(OAuth2Validator):
    def authenticate_client(self, request, *args, **kwargs):
        used_basic = bool(self._extract_basic_auth(request))
        used_body = bool(getattr(request, "client_secret", None))
        if used_basic and used_body:
            return False
        if not super().authenticate_client(request, *args, **kwargs):
            return False
        registered = settings.TOKEN_ENDPOINT_AUTH_METHODS.get(request.client.client_id)
        used = "client_secret_basic" if used_basic else "client_secret_post"
        return registered is None or registered == used

    def get_additional_claims(self, request):
        # Given out only with the email scope (oidc_claim_scope).
        return {"email": request.user.email}
