"""Any OAuth 2.0 authorization server, described by its credential's settings."""

from connectors.exchanges import Exchange

# Any authorization server that follows RFC 6749 and RFC 7636, described by its credential's settings: its
# issuer's metadata (RFC 8414) and what the broker admin entered by hand (credential.py); its scopes are the
# tenant's to list.
EXCHANGE = Exchange(
    id="oauth2",
    name="OAuth 2.0 server",
    permissions=(),
    default_permissions=(),
    authorize_base_url="",
    api_base_url="",
    application_form=("redirect_uris", "allowed_permissions"),
)
