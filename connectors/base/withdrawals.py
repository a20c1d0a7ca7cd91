"""What the wizard needs from an exchange, as one small class per exchange; the flow lives in services."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from connectors.base.api import ExchangeAPI, json_or_empty


@dataclass(frozen=True)
class ChainInfo:
    chain_id: str
    name: str
    withdrawal_fee: Decimal
    min_size: Decimal
    precision: int
    enabled: bool = True


@dataclass(frozen=True)
class CurrencyInfo:
    code: str
    precision: int
    chains: tuple[ChainInfo, ...]

    def chain(self, chain_id: str) -> ChainInfo | None:
        return next((chain for chain in self.chains if chain.chain_id == chain_id), None)


@dataclass(frozen=True)
class SavedAddress:
    """A withdrawal address the user saved at the exchange: ``key`` is what a withdrawal names it by."""

    currency: str
    key: str
    address: str
    network: str


@dataclass(frozen=True)
class Price:
    usdt: Decimal
    at: datetime


@dataclass(frozen=True)
class Factors:
    transaction_id: str
    all_factors: list = field(default_factory=list)
    sent_factors: list = field(default_factory=list)


@dataclass(frozen=True)
class ExchangeStatus:
    raw: str
    final: bool
    succeeded: bool
    # The blockchain's transaction id, where the exchange reports one.
    transaction_hash: str = ""


class SecuritySetupRequired(Exception):
    """The exchange needs the user to set up 2FA there first; ``url`` is its setup page."""

    def __init__(self, url: str):
        super().__init__(url)
        self.url = url


class ExchangeWithdrawals:
    """Hooks an exchange implements; each takes the connectors' signed API object."""

    withdraw_types: tuple[str, ...] = ("ADDRESS",)
    # The first is the wizard's preselection: fees from the balance, so the recipient gets what was typed.
    fee_deduct_types: tuple[str, ...] = ("EXTERNAL", "INTERNAL")
    has_service_fee = False
    needs_factors = False  # the exchange asks for its own 2FA codes before executing
    has_memo = False
    # (window, count) limits the exchange puts on these withdraw types, counted per account.
    rate_limited_types: tuple[str, ...] = ()
    rate_limits: tuple[tuple[timedelta, int], ...] = ()
    destination_label = "Address"
    # The exchange's error codes for a submit that executed nothing because a 2FA code was wrong (the user may
    # enter the codes again), and for one whose 2FA transaction ended (new codes must be requested).
    wrong_code_errors: frozenset[str] = frozenset()
    restart_verification_errors: frozenset[str] = frozenset()
    # The exchange's refusals in the user's words, by the exchange's own error code (each package's mapping).
    error_messages: dict[str, str] = {}

    def refusal_message(self, error: Exception) -> str:
        """What the user reads for the exchange's refusal: the package's words for its code, else the
        exchange's own message as ``plain_message`` makes it readable."""
        code = getattr(error, "code", "") or ""
        return self.error_messages.get(code) or self.plain_message(str(error))

    def plain_message(self, message: str) -> str:
        """The exchange's message without what only a developer reads (hook)."""
        return message

    def security_setup_url(self, message: str, *, client_id: str, return_url: str) -> str | None:
        """The exchange's page where the user sets up what its withdrawal needs (2FA), built from its refusal's
        message, sending the user back to ``return_url``; None where it names none."""
        return None

    def currency(self, api: ExchangeAPI, connection, code: str) -> CurrencyInfo:
        raise NotImplementedError

    def currencies(self, api: ExchangeAPI, connection) -> list[str]:
        raise NotImplementedError

    def available(self, api: ExchangeAPI, connection, code: str) -> Decimal:
        raise NotImplementedError

    # Whether the destination is one of the addresses the user saved at the exchange, chosen from saved_addresses.
    saved_addresses_only = False

    def saved_addresses(self, api: ExchangeAPI, connection) -> list[SavedAddress]:
        """The addresses the user saved at the exchange, every currency's, to choose from ([] where the exchange
        tells none)."""
        return []

    def price(self, api: ExchangeAPI, code: str) -> Price:
        raise NotImplementedError

    def request_factors(self, api: ExchangeAPI, connection, withdrawal) -> Factors:
        raise NotImplementedError

    def submit(self, api: ExchangeAPI, connection, withdrawal, codes: dict) -> str:
        """Send the withdrawal; the exchange's withdrawal id. Codes go to the exchange and nowhere else."""
        raise NotImplementedError

    def status(self, api: ExchangeAPI, connection, withdrawal) -> ExchangeStatus:
        raise NotImplementedError

    def sent_candidates(self, api: ExchangeAPI, connection, withdrawal) -> list[str]:
        """The exchange's ids of the withdrawals in its history that match this one, best first; [] if none.
        The flow skips ids another row already stands for."""
        raise NotImplementedError

    def lost_submit_expires_after(self) -> timedelta | None:
        """How long after a submit began the exchange can no longer execute it, where its documents say so.
        None: nothing ends it, so a submit without an answer stays "unknown" until the history shows it."""
        return None


def public_get(api: ExchangeAPI, path: str, params: dict | None = None) -> dict:
    with api.session() as session:
        response = session.get(api.url(path), params=params)
    return json_or_empty(response)
