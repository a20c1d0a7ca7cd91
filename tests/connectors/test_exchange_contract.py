"""The contract every exchange package meets, walked against the live sandbox: connect, key creation, the token
lifecycle, history and disconnect. Each exchange supplies only its own data (``ContractCase``), as allauth's
providers supply their canned responses to ``OAuth2TestsMixin``; a fifth exchange adds one more subclass."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from broker_portal.models import AuditEvent
from connectors.clients import exchange_api
from connectors.exchanges import exchange_packages
from connectors.models import ExchangeConnection, ExchangeCredential
from connectors.token_refresh import Outcome, connection_refresh, connections_sweep
from exports.models import HistoryEntry
from exports.services.sync import sync_connection_history
from sandbox import clock as sandbox_clock
from sandbox.models import ApiKey as SandboxKey
from sandbox.models import Token as SandboxToken

from .helpers import csrf_token

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass(frozen=True)
class ContractCase:
    exchange_id: str
    # What the user ticks on the portal's permission page, and what the connection may then use.
    permissions: tuple[str, ...]
    granted: frozenset[str]
    # "fast_api_key": the exchange makes a key for the portal; "token_pair": the OAuth token is the key (Peatio).
    key_kind: str
    # "refresh": the token pair is rotated ahead of expiry; "api_key": the key is the credential, never refreshed.
    lifecycle: str
    # What a disconnect can do at the exchange: delete the key, revoke the tokens.
    key_deleted: bool
    tokens_revoked: bool
    # The kind of history the contract syncs (one, to keep it short: tests/exports covers every kind).
    history_kind: str = "trade"
    # The BTC the sandbox's trader holds across the exchange's accounts.
    btc_held: Decimal = Decimal("1.5")


class ExchangeContract:
    case: ContractCase

    @pytest.fixture
    def connected(self, browser_session, portal, sandbox_accounts):
        response = browser_session.connect(
            self.case.exchange_id, sandbox_accounts[self.case.exchange_id]["trader"], list(self.case.permissions)
        )
        assert response.status_code == 302 and response.headers["Location"] == "/", response.text[:1500]
        return ExchangeConnection.objects.get(exchange=self.case.exchange_id)

    def live_keys_at_exchange(self) -> int:
        if self.case.key_kind == "token_pair":
            return SandboxToken.objects.filter(
                client__exchange=self.case.exchange_id, revoked_at__isnull=True, superseded_at__isnull=True
            ).count()
        return SandboxKey.objects.filter(exchange=self.case.exchange_id, deleted_at__isnull=True).count()

    def balances(self, connection):
        credential = ExchangeCredential.objects.get(tenant=connection.tenant, exchange=connection.exchange)
        return {b.currency: b.total for b in exchange_api(credential).balances(connection)}

    def test_the_package_is_complete(self):
        package = exchange_packages()[self.case.exchange_id]
        assert package.provider_class.exchange_id == self.case.exchange_id
        assert package.demo is not None and package.history is not None
        assert set(self.case.granted) <= set(package.exchange.permission_codes)

    def test_connect_makes_one_key_with_the_granted_permissions(self, connected, portal):
        assert connected.status == ExchangeConnection.Status.ACTIVE
        assert set(connected.permissions) == self.case.granted
        assert connected.api_key and connected.api_secret
        assert self.live_keys_at_exchange() == 1
        assert self.balances(connected)["BTC"] == self.case.btc_held  # what the sandbox account holds
        assert AuditEvent.objects.filter(action="connection.connected", tenant=portal["tenant"]).count() == 1

    def test_the_lifecycle_keeps_the_connection_usable(self, connected):
        if self.case.lifecycle == "refresh":
            before = connected.access_token
            assert connection_refresh(connection_id=connected.pk, force=True).outcome == Outcome.REFRESHED
            connected.refresh_from_db()
            assert connected.access_token != before and connected.status == ExchangeConnection.Status.ACTIVE
        else:
            # The access token lapses: nothing is refreshed, nothing asks the user to reconnect.
            sandbox_clock.set_offset(int(timedelta(hours=2).total_seconds()))
            later = timezone.now() + timedelta(hours=2)
            assert connection_refresh(connection_id=connected.pk, force=True).outcome == Outcome.SKIPPED
            assert connections_sweep(now=later)["enqueued"] == 0
            connected.refresh_from_db()
            assert connected.status == ExchangeConnection.Status.ACTIVE and not connected.refresh_token
        assert self.balances(connected)["BTC"] == self.case.btc_held
        assert self.live_keys_at_exchange() == 1

    def test_history_syncs_through_the_connection(self, connected):
        added = sync_connection_history(connection=connected, kinds=[self.case.history_kind])
        stored = HistoryEntry.objects.filter(connection=connected, kind=self.case.history_kind).count()
        assert added == {self.case.history_kind: stored} and stored > 0

    def test_disconnect_does_what_the_exchange_allows_and_wipes_every_secret(
        self, connected, browser_session, portal, sandbox_accounts
    ):
        dashboard = browser_session.session.get(f"{portal['url']}/").text
        response = browser_session.session.post(
            f"{portal['url']}/connect/{self.case.exchange_id}/{connected.pk}/disconnect/",
            data={"csrfmiddlewaretoken": csrf_token(dashboard)},
            allow_redirects=False,
        )
        assert response.status_code == 302
        connected.refresh_from_db()
        assert connected.status == ExchangeConnection.Status.REVOKED
        assert not any(
            (
                connected.access_token,
                connected.refresh_token,
                connected.api_key,
                connected.api_secret,
                connected.api_passphrase,
            )
        )
        event = AuditEvent.objects.get(action="connection.disconnected")
        assert (event.details["api_key_deleted"], event.details["tokens_revoked"]) == (
            self.case.key_deleted,
            self.case.tokens_revoked,
        ), event.details
        assert self.live_keys_at_exchange() == (0 if self.case.key_deleted or self.case.tokens_revoked else 1)
        if self.case.tokens_revoked:
            assert not SandboxToken.objects.filter(
                client__exchange=self.case.exchange_id, revoked_at__isnull=True
            ).exists()
        # The card offers to connect again, and doing so reuses the same row.
        assert "Connect " in browser_session.session.get(f"{portal['url']}/").text
        again = browser_session.connect(
            self.case.exchange_id, sandbox_accounts[self.case.exchange_id]["trader"], list(self.case.permissions)
        )
        assert again.status_code == 302
        assert ExchangeConnection.objects.get(exchange=self.case.exchange_id).status == ExchangeConnection.Status.ACTIVE


class TestKuCoin(ExchangeContract):
    # No public evidence of a key-deletion or token-revocation endpoint for KuCoin's Fast API (EVIDENCE.md).
    # The groups chosen here are the ones KuCoin's consent page offers ticked: the key must match the approval.
    case = ContractCase(
        "kucoin",
        ("API_COMMON", "API_SPOT", "API_FUTURES", "API_EARN"),
        frozenset({"API_COMMON", "API_SPOT", "API_FUTURES", "API_EARN"}),
        key_kind="fast_api_key",
        lifecycle="refresh",
        key_deleted=False,
        tokens_revoked=False,
        btc_held=Decimal("3.0"),
    )  # 1.5 in the main account, 1.5 in the trade_hf account


class TestOKX(ExchangeContract):
    case = ContractCase(
        "okx",
        ("read_only",),
        frozenset({"read_only"}),
        key_kind="fast_api_key",
        lifecycle="api_key",
        key_deleted=True,
        tokens_revoked=True,
    )


class TestKraken(ExchangeContract):
    case = ContractCase(
        "kraken",
        (
            "account.info:basic",
            "account.fast-api-key:write",
            "account.fast-api-key:funds-query",
            "account.fast-api-key:trades-query-closed",
        ),
        frozenset(
            {
                "account.info:basic",
                "account.fast-api-key:write",
                "account.fast-api-key:funds-query",
                "account.fast-api-key:trades-query-closed",
            }
        ),
        key_kind="fast_api_key",
        lifecycle="refresh",
        key_deleted=True,
        tokens_revoked=False,
    )


class TestPeatio(ExchangeContract):
    case = ContractCase(
        "peatio",
        ("profile", "history"),
        frozenset({"profile", "history"}),
        key_kind="token_pair",
        lifecycle="refresh",
        key_deleted=False,
        tokens_revoked=True,
    )
