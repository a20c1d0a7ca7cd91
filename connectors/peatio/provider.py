"""The Peatio-style exchange: Doorkeeper OAuth whose user token is an APIv2 key pair."""

from datetime import timedelta

from connectors.base.oauth import ExchangeOAuth2Adapter, ExchangeProvider

from .client import PeatioAPI


class PeatioOAuth2Adapter(ExchangeOAuth2Adapter):
    provider_id = "peatio"
    authorize_path = "/oauth/authorize"
    token_path = "/oauth/token"
    revoke_path = "/oauth/revoke"
    # Doorkeeper 1.4 (doorkeeper-gem/doorkeeper v1.4.1, in Peatio's Gemfile.lock), tokens_controller.rb#revoke:
    # it revokes ``token`` only if the request presents a valid access token (Authorization: Bearer) of the
    # same application and user, and answers 200 either way (see PeatioAPI.revocation_confirmed).
    revoke_with_bearer = True
    # The document's "scope=profile+history+trade" is a query string: Doorkeeper separates scopes with
    # spaces, and urlencode writes each space as "+" (a literal "+" would be sent as %2B, one unknown scope).
    scope_delimiter = " "
    default_access_lifetime = timedelta(hours=4)


class PeatioProvider(ExchangeProvider):
    id = "peatio"
    exchange_id = "peatio"
    name = "Peatio Exchange"
    oauth2_adapter_class = PeatioOAuth2Adapter
    api_class = PeatioAPI


provider_classes = [PeatioProvider]
