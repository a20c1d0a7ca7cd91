"""A generic OAuth 2.0 server's one call besides the token endpoints: who the account is (its userinfo endpoint).

An ID token's ``sub`` would say the same, but only once its signature is verified against the server's JWKS,
which the portal does not do: the account id comes from the userinfo endpoint alone, called with the access
token over TLS from the server itself (OpenID Connect Core §5.3)."""

from connectors.base.api import AccessTokenExpired, ExchangeAPI, ExchangeAPIError, json_or_empty
from connectors.base.http import exchange_session


class GenericOAuth2API(ExchangeAPI):
    def account_identity(self, access_token: str, permissions: list[str] = ()) -> dict:
        """``account_id`` (the userinfo's ``sub``) and, where the user granted it, ``email``; {} where the server
        has no userinfo endpoint."""
        url = self.settings.get("userinfo_url") or ""
        if not url:
            return {}
        with exchange_session(allowed_base_urls=[url], hosts=self.settings.get("call_hosts")) as session:
            response = session.get(
                url, headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
            )
        if response.status_code == 401:
            raise AccessTokenExpired("The server's userinfo endpoint refused the access token.")
        if response.status_code != 200:
            raise ExchangeAPIError(f"The server's userinfo endpoint answered HTTP {response.status_code}.")
        claims = json_or_empty(response)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 128:
            raise ExchangeAPIError("The server's userinfo answer had no usable sub (the account id).")
        identity = {"account_id": subject}
        email = claims.get("email")
        if isinstance(email, str) and email and len(email) <= 254:
            identity["email"] = email
        return identity
