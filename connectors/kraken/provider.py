from datetime import timedelta

from django.utils import translation

from connectors.base.oauth import ExchangeOAuth2Adapter, ExchangeProvider

from .client import KrakenAPI

# The languages of Kraken's authorization page, as krakenfx/api-specs oauth/openapi_v3.yaml lists them
# (getOAuthCodeWithLanguage: GET https://id.kraken.com/{language}/oauth/authorize, the path's enum).
AUTHORIZE_LANGUAGES = (
    "en-us",
    "es-es",
    "fil-ph",
    "fr",
    "de",
    "it-it",
    "nl",
    "pl",
    "pt-br",
    "ru-ru",
    "tr-tr",
    "uk-ua",
    "vi-vn",
    "zh-cn",
)
# Django's language codes whose Kraken page has another name, or none: Kraken's Chinese page is Simplified.
DJANGO_LANGUAGES = {"zh-hans": "zh-cn", "zh-hant": "", "zh-tw": "", "zh-hk": ""}


def authorize_language(language: str | None) -> str:
    """Kraken's page language for a Django language code ("de", "es", "pt-br"), or "" where Kraken has none:
    the code itself, else the one Kraken page of that language ("es" -> "es-es")."""
    code = (language or "").lower()
    code = DJANGO_LANGUAGES.get(code, code)
    if code in AUTHORIZE_LANGUAGES:
        return code
    primary = code.split("-")[0]
    matches = [item for item in AUTHORIZE_LANGUAGES if item.split("-")[0] == primary]
    return matches[0] if len(matches) == 1 else ""


class KrakenOAuth2Adapter(ExchangeOAuth2Adapter):
    provider_id = "kraken"
    authorize_path = "/oauth/authorize"
    token_path = "/oauth/token"
    basic_auth = True  # client_id:client_secret, with an empty secret for public clients
    default_access_lifetime = timedelta(hours=24)
    refresh_lifetime = timedelta(days=30)

    @property
    def authorize_url(self) -> str:
        """The authorization page in the request's active language where Kraken offers it
        (/{language}/oauth/authorize), the plain /oauth/authorize otherwise; a configured full URL wins."""
        language = authorize_language(translation.get_language())
        if self.settings.get("authorize_url") or not language or self.authorize_path != "/oauth/authorize":
            return super().authorize_url
        return self.settings["authorize_base_url"].rstrip("/") + f"/{language}{self.authorize_path}"


class KrakenProvider(ExchangeProvider):
    id = "kraken"
    exchange_id = "kraken"
    name = "Kraken"
    oauth2_adapter_class = KrakenOAuth2Adapter
    api_class = KrakenAPI


provider_classes = [KrakenProvider]
