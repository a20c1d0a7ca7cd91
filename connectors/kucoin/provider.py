"""KuCoin Broker Fast API: OAuth login, token and key creation on the www host, signed REST on the api host.

Sources (EVIDENCE.md, KuCoin section): the public copy of KuCoin's Fast API document (repository file
"KuCoin API Research and Testing", sections 4 and 7: ``GET https://www.kucoin.com/_oauth/access-token``,
``POST https://www.kucoin.com/_oauth/refresh-token``) and public integrations that call those URLs (level B).
"""

from datetime import timedelta

from connectors.base.oauth import ExchangeOAuth2Adapter, ExchangeProvider, allowed_urls

from .client import KuCoinAPI

# The access token is only for creating the key (section 7.1 "scope=OAUTH_CREATE_API"; the refresh answer in
# 7.3 shows the same scope). The permission groups are chosen on KuCoin's page, they are not OAuth scopes.
OAUTH_SCOPE = "OAUTH_CREATE_API"
# Section 7.3's table gives grant_type "authorization_code" for the refresh call; no integration shows a
# working refresh (level C), so it is the credential setting "refresh_grant_type" with the table's value.
DEFAULT_REFRESH_GRANT_TYPE = "authorization_code"


class KuCoinOAuth2Adapter(ExchangeOAuth2Adapter):
    provider_id = "kucoin"
    authorize_path = "/oauth"
    token_path = "/_oauth/access-token"
    refresh_path = "/_oauth/refresh-token"
    # Section 7.2: the code is exchanged with a GET whose parameters are in the query string.
    access_token_method = "GET"
    refresh_token_method = "POST"  # section 7.3, parameters in the body
    # Token, refresh and key creation go to the www host (the credential's authorize_base_url); signed REST
    # calls to the api host (api_base_url).
    token_base_setting = "authorize_base_url"
    encode_redirect_uri = False  # sections 7.1 and 7.2: "please don't encode the redirect URL"
    scope_delimiter = ","
    refresh_lifetime = timedelta(days=3)
    # Section 7.2 lists grant_type, code, redirect_uri and client_id, and one public integration works with just
    # those; another also sends client_secret (level C). Off unless the credential setting
    # "token_sends_client_secret" is true, which also keeps the secret out of the access-token URL.
    sends_client_secret = False

    def sends_secret(self) -> bool:
        return bool(self.settings.get("token_sends_client_secret", self.sends_client_secret))

    def allowed_base_urls(self, app) -> list[str]:
        return [*allowed_urls(app), app.settings["authorize_base_url"]]

    def refresh_request_data(self, refresh_token, permissions):
        # Section 7.3: refresh_token and scope (the token's own scope, not the key's groups) in the body.
        return {
            "grant_type": self.settings.get("refresh_grant_type") or DEFAULT_REFRESH_GRANT_TYPE,
            "refresh_token": refresh_token,
            "scope": OAUTH_SCOPE,
        }


class KuCoinProvider(ExchangeProvider):
    id = "kucoin"
    exchange_id = "kucoin"
    name = "KuCoin"
    oauth2_adapter_class = KuCoinOAuth2Adapter
    api_class = KuCoinAPI
    # Seed guide 7.1: the login carries no permission groups ("the broker should independently guide users to
    # select and authorize the withdrawal permission"), so KuCoin's page opens with its own defaults (the Fast API
    # announcement: "Default permissions for spot trading, futures trading, and KuCoin Earn access"); a key
    # request whose groups differ from that approval is refused (40503).
    consent_hint = (
        "KuCoin's page opens with its own choice ticked (General, Spot trading, Futures trading and "
        "KuCoin Earn). There, tick exactly what you tick here and untick the rest: KuCoin will not "
        "create the key if they differ."
    )

    def scope_for(self, permissions):
        # The groups the user chose travel in the flow's state and go into the key request's authGroupMap.
        return [OAUTH_SCOPE]

    def granted_permissions(self, token, requested):
        # The token's scope is OAUTH_CREATE_API whatever the user approved, so it says nothing of the groups.
        return list(requested)

    def key_permissions(self, api_key, granted):
        # The key's real groups are those KuCoin's answer names in authGroup (section 4).
        return list(api_key.permissions)


provider_classes = [KuCoinProvider]
