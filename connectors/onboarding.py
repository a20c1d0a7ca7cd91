"""What an exchange's application form asks a broker for, assembled from the tenant's configuration."""

from dataclasses import dataclass

from .exchanges import EXCHANGES
from .models import ExchangeCredential

FIELD_LABELS = {
    "service_ip_list": "IP list for requesting the Fast API service",
    "trading_ip_list": "IP list for trading",
    "redirect_uris": "Redirect URL(s)",
    "logo": "Logo",
    "allowed_permissions": "Permissions / scopes",
    "cross_domain_name": "Cross-domain name",
    "rsa_public_key": "RSA public key (PEM, 2048 bits or more)",
}


@dataclass(frozen=True)
class FormItem:
    name: str
    label: str
    value: str

    @property
    def missing(self) -> bool:
        return not self.value


def field_value(credential: ExchangeCredential, name: str, request) -> str:
    tenant = credential.tenant
    if name == "logo":
        return request.build_absolute_uri("/branding/logo") if tenant.logo else ""
    if name == "cross_domain_name":
        host = tenant.hosts.order_by("pk").first()
        return host.host if host else ""
    if name == "rsa_public_key":
        return credential.rsa_public_key
    value = getattr(credential, name)
    return "\n".join(value) if isinstance(value, list) else str(value or "")


def application_form(*, credential: ExchangeCredential, request) -> list[FormItem]:
    exchange = EXCHANGES[credential.exchange]
    return [
        FormItem(name, FIELD_LABELS[name], field_value(credential, name, request)) for name in exchange.application_form
    ]
