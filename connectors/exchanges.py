"""The exchanges the portal offers, each found in its own package.

An exchange is one package under ``connectors/`` listed in ``INSTALLED_APPS`` (the one settings line). It holds
all of the exchange's portal-side facts and hooks, each in the module its role names:

- ``exchange.py``: ``EXCHANGE``, the facts as data (permissions, defaults, production base URLs, application form);
- ``provider.py``: the allauth provider and OAuth 2.0 adapter (``provider_classes``), ``client.py`` its API client;
- ``withdrawals.py`` (optional): ``WITHDRAWALS``, the withdrawal wizard's hooks; without it, no withdrawals;
- ``trading.py`` (optional): ``TRADING``, the order ticket's hooks (connectors/base/trading.py); without it, no trading;
- ``history.py`` (optional): ``SOURCE``, how its history is read for exports; without it, no history sync;
- ``demo.py`` (optional): ``DEMO``, how the demo registers it at the exchange sandbox; without it, not simulated;
- ``credential.py`` (optional): its credential settings' admin fields and rules (see connectors/base/credential.py).

``exchange_packages`` discovers them from the app registry; ``connectors.checks`` says at start-up when a
package is incomplete or a hook names another exchange. Paths under a base URL are the exchange's own, so the
sandbox mirrors them under ``/sandbox/<exchange>/`` and only the base URL changes between the two.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module
from importlib.util import find_spec

from django.apps import apps


@dataclass(frozen=True)
class Permission:
    code: str
    label: str
    description: str


@dataclass(frozen=True)
class Exchange:
    id: str
    name: str
    permissions: tuple[Permission, ...]
    default_permissions: tuple[str, ...]
    authorize_base_url: str
    api_base_url: str
    # Permissions that allow moving funds out; the wizard offers withdrawal only with one.
    withdrawal_permissions: tuple[str, ...] = ()
    # What the exchange's application form asks a broker for.
    application_form: tuple[str, ...] = field(default_factory=tuple)
    # How exports name the exchange where its full name is longer than an accountant needs.
    short_name: str = ""
    # The hosts production may call for this exchange (connectors/base/hosts.py); empty: any public host.
    known_hosts: tuple[str, ...] = ()

    @property
    def permission_codes(self) -> tuple[str, ...]:
        return tuple(p.code for p in self.permissions)

    @property
    def export_name(self) -> str:
        return self.short_name or self.name

    def permission_labels(self, codes) -> list[str]:
        """What the user reads for these permission codes: each one's label, the code where it has none (a
        generic server's scopes are its tenant's to name)."""
        labels = {p.code: p.label for p in self.permissions}
        return [labels.get(code, code) for code in codes]


@dataclass(frozen=True)
class ExchangePackage:
    """One exchange's pieces, as its package provides them."""

    module: str
    exchange: Exchange
    provider_class: type
    withdrawals: object | None = None  # connectors.base.withdrawals.ExchangeWithdrawals
    history: object | None = None  # connectors.base.history.HistorySource
    demo: object | None = None  # connectors.base.demo.DemoSetup
    trading: object | None = None  # connectors.base.trading.ExchangeTrading


def _role(package: str, role: str):
    return import_module(f"{package}.{role}") if find_spec(f"{package}.{role}") else None


@cache
def exchange_packages() -> dict[str, ExchangePackage]:
    """Every installed app with an ``exchange`` module, by exchange id (in INSTALLED_APPS order)."""
    found = {}
    for app_config in apps.get_app_configs():
        facts = _role(app_config.name, "exchange")
        if facts is None:
            continue
        provider, withdrawals, history, demo, trading = (
            _role(app_config.name, role) for role in ("provider", "withdrawals", "history", "demo", "trading")
        )
        found[facts.EXCHANGE.id] = ExchangePackage(
            module=app_config.name,
            exchange=facts.EXCHANGE,
            provider_class=provider.provider_classes[0] if provider else None,
            withdrawals=getattr(withdrawals, "WITHDRAWALS", None),
            history=getattr(history, "SOURCE", None),
            demo=getattr(demo, "DEMO", None),
            trading=getattr(trading, "TRADING", None),
        )
    return found


class _Exchanges(Mapping):
    """``EXCHANGES[id]``: the facts of each discovered exchange, read when first needed (after the app registry)."""

    def __getitem__(self, exchange_id: str) -> Exchange:
        return exchange_packages()[exchange_id].exchange

    def __iter__(self) -> Iterator[str]:
        return iter(exchange_packages())

    def __len__(self) -> int:
        return len(exchange_packages())


EXCHANGES: Mapping[str, Exchange] = _Exchanges()


def exchange_choices() -> list[tuple[str, str]]:
    return [(exchange.id, exchange.name) for exchange in EXCHANGES.values()]


def get_exchange(exchange_id: str) -> Exchange:
    return EXCHANGES[exchange_id]


def simulated_exchanges() -> list[ExchangePackage]:
    """The exchanges the sandbox simulates, whose packages say how the demo registers them there."""
    return [package for package in exchange_packages().values() if package.demo is not None]


def withdrawal_hooks(exchange_id: str):
    """The exchange's withdrawal hooks, or None where it offers no withdrawal."""
    package = exchange_packages().get(exchange_id)
    return package.withdrawals if package else None


def trading_hooks(exchange_id: str):
    """The exchange's trading hooks, or None where the portal offers no trading on it."""
    package = exchange_packages().get(exchange_id)
    return package.trading if package else None


def history_sources() -> list:
    """Every exchange's history source, for the exchanges that have one."""
    return [package.history for package in exchange_packages().values() if package.history is not None]


def history_source(exchange_id: str):
    """How the exchange's history is read, or None where the portal syncs none."""
    package = exchange_packages().get(exchange_id)
    return package.history if package else None
