"""Pages and admin without the exchange: tenant and user scoping, capability, read-only admin, limits."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.utils import timezone

from broker_portal.models import Membership
from connectors.exchanges import withdrawal_hooks
from tests.helpers import exact_queries, make_member
from tests.withdrawals.helpers import connection_of, withdrawal_of
from withdrawals.models import FactorRequest, Withdrawal, WithdrawalLimit
from withdrawals.selectors import withdrawal_capability
from withdrawals.services.errors import WithdrawalError
from withdrawals.services.limits import check_broker_limits, check_exchange_rate_limit

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "exchange, permissions, reason",
    [
        ("kucoin", ["API_COMMON", "API_WITHDRAW_OAUTH"], ""),
        ("kucoin", ["API_COMMON"], "You did not grant the “Withdrawal” permission"),
        ("kraken", ["account.fast-api-key:funds-withdraw"], ""),
        ("kraken", ["account.fast-api-key:funds-query"], "“Withdraw” permission"),
        ("okx", ["read_only", "trade"], "OKX withdrawals are not offered"),
        ("peatio", ["profile"], "not offered"),
    ],
)
def test_capability_follows_exchange_and_granted_permissions(tenant, member, exchange, permissions, reason):
    connection = connection_of(member, tenant, exchange, permissions)
    found = withdrawal_capability(connection=connection)
    assert (reason in found) if reason else found == ""


def test_a_connection_without_the_permission_says_why_on_the_wizard_and_dashboard(tenant, member, client_at):
    connection = connection_of(member, tenant, permissions=["API_COMMON"])
    client = client_at("alpha.localhost")
    client.force_login(member)
    page = client.get(f"/withdrawals/new/{connection.pk}/")
    assert page.status_code == 200 and "did not grant" in page.content.decode()


def test_another_users_or_tenants_withdrawal_answers_404_on_every_page(tenant, other_tenant, member, client_at):
    mine = withdrawal_of(connection_of(member, tenant))
    neighbour = make_member(tenant, "neighbour@alpha.example")
    theirs = withdrawal_of(connection_of(neighbour, tenant))
    stranger = make_member(other_tenant, "member@beta.example")
    foreign = withdrawal_of(connection_of(stranger, other_tenant))
    client = client_at("alpha.localhost")
    client.force_login(member)
    assert client.get(f"/withdrawals/{mine.pk}/").status_code == 200
    for other in (theirs, foreign):
        for page in ("", "details/", "preview/", "step-up/", "verify/"):
            assert client.get(f"/withdrawals/{other.pk}/{page}").status_code == 404
        assert client.post(f"/withdrawals/{other.pk}/cancel/").status_code == 404
        assert client.post(f"/withdrawals/{other.pk}/verify/", {"action": "submit", "GAV": "1"}).status_code == 404
    assert client.get(f"/withdrawals/new/{theirs.connection_id}/").status_code == 404


def test_withdrawals_are_read_only_and_tenant_scoped_in_the_admin(tenant, other_tenant, member, client_at):
    admin = make_member(tenant, "boss@alpha.example", Membership.Role.BROKER_ADMIN)
    TOTP.activate(admin, "JBSWY3DPEHPK3PXPJBSWY3DP")
    own = withdrawal_of(connection_of(member, tenant))
    foreign = withdrawal_of(connection_of(make_member(other_tenant, "x@beta.example"), other_tenant))
    client = client_at("alpha.localhost")
    client.force_login(admin)
    listing = client.get("/admin/withdrawals/withdrawal/").content.decode()
    assert f"/admin/withdrawals/withdrawal/{own.pk}/change/" in listing
    assert f"/admin/withdrawals/withdrawal/{foreign.pk}/change/" not in listing
    page = client.get(f"/admin/withdrawals/withdrawal/{own.pk}/change/")
    assert page.status_code == 200 and 'name="state"' not in page.content.decode()
    assert client.get("/admin/withdrawals/withdrawal/add/").status_code == 403
    client.post(f"/admin/withdrawals/withdrawal/{own.pk}/change/", {"state": "failed"})
    assert Withdrawal.objects.get(pk=own.pk).state == "processing"


def test_broker_limits_per_user_and_per_tenant(tenant, member):
    connection = connection_of(member, tenant)
    withdrawal_of(connection, total_debit=Decimal("600"))
    draft = withdrawal_of(connection, state="previewed", exchange_withdrawal_id="", submit_started_at=None)
    WithdrawalLimit.objects.create(tenant=tenant, scope="per_user", window_hours=24, max_usdt=Decimal("1000"))
    check_broker_limits(withdrawal=draft, value_usdt=Decimal("400"))
    with pytest.raises(WithdrawalError, match="your withdrawal limit of 1000.00 USDT per 24 hours"):
        check_broker_limits(withdrawal=draft, value_usdt=Decimal("400.01"))
    other = make_member(tenant, "other@alpha.example")
    withdrawal_of(connection_of(other, tenant), total_debit=Decimal("900"))
    WithdrawalLimit.objects.create(tenant=tenant, scope="tenant", window_hours=24, max_usdt=Decimal("1500"))
    with pytest.raises(WithdrawalError, match="this broker's"):
        check_broker_limits(withdrawal=draft, value_usdt=Decimal("1"))
    # Older than the window: no longer counted.
    Withdrawal.objects.exclude(pk=draft.pk).update(submit_started_at=timezone.now() - timedelta(hours=25))
    check_broker_limits(withdrawal=draft, value_usdt=Decimal("1000"))


def test_the_exchanges_uid_limit_of_fifty_a_day_gives_the_time_to_try_again(tenant, member):
    connection = connection_of(member, tenant)
    draft = withdrawal_of(connection, state="stepped_up", exchange_withdrawal_id="")
    now = timezone.now()
    first = now - timedelta(hours=23)
    FactorRequest.objects.bulk_create(
        FactorRequest(
            tenant=tenant,
            connection=connection,
            withdrawal=draft,
            withdraw_type="MAIL",
            requested_at=first + timedelta(minutes=i),
        )
        for i in range(50)
    )
    with pytest.raises(WithdrawalError, match="50 such withdrawals per 24 hours") as refused:
        check_exchange_rate_limit(withdrawal=draft, hooks=withdrawal_hooks("kucoin"), now=now)
    assert refused.value.retry_at == first + timedelta(hours=24)
    # ADDRESS withdrawals are not limited this way.
    draft.withdraw_type = "ADDRESS"
    check_exchange_rate_limit(withdrawal=draft, hooks=withdrawal_hooks("kucoin"), now=now)


def test_only_one_row_per_exchange_withdrawal_id(tenant, member):
    from django.db import IntegrityError

    connection = connection_of(member, tenant)
    withdrawal_of(connection, exchange_withdrawal_id="W1")
    with pytest.raises(IntegrityError):
        withdrawal_of(connection, exchange_withdrawal_id="W1")


def test_the_sweep_picks_open_and_hung_withdrawals_only(tenant, member):
    connection = connection_of(member, tenant)
    processing = withdrawal_of(connection)
    unknown = withdrawal_of(connection, state="unknown", exchange_withdrawal_id="")
    hung = withdrawal_of(
        connection,
        state="submitting",
        exchange_withdrawal_id="",
        submit_started_at=timezone.now() - timedelta(minutes=5),
    )
    withdrawal_of(connection, state="submitting", exchange_withdrawal_id="")  # still within its call
    withdrawal_of(connection, state="succeeded")
    from withdrawals.selectors import withdrawals_to_poll

    assert sorted(withdrawals_to_poll()) == sorted([processing.pk, unknown.pk, hung.pk])


def test_the_security_setup_link_gets_client_id_and_the_encoded_return_url():
    from connectors.kucoin.withdrawals import security_setup_link

    message = (
        "You need to bind more factors to continue this operation. Please visit the following link: "
        "https://www.kucoin.com/account/security/g2fa"
    )
    link = security_setup_link(
        message,
        client_id="demo-kucoin-client",
        redirect_uri="https://portal.example/withdrawals/exchange-security/?a=1&b=2",
    )
    assert link == (
        "https://www.kucoin.com/account/security/g2fa?client_id=demo-kucoin-client&redirect_uri="
        "https%3A%2F%2Fportal.example%2Fwithdrawals%2Fexchange-security%2F%3Fa%3D1%26b%3D2"
    )
    assert security_setup_link("Permission denied.", client_id="x", redirect_uri="y") is None


def test_the_status_page_reads_a_fixed_number_of_queries(tenant, member, client_at):
    withdrawal = withdrawal_of(connection_of(member, tenant))
    client = client_at("alpha.localhost")
    client.force_login(member)
    # The tenant's host, the session, the user, the membership, the withdrawal with its connection.
    with exact_queries(5):
        page = client.get(f"/withdrawals/{withdrawal.pk}/")
    assert page.status_code == 200 and "Processing at the exchange" in page.content.decode()


def test_withdrawals_go_with_their_tenant_but_keep_their_user(tenant, member):
    from django.db.models import RestrictedError

    withdrawal_of(connection_of(member, tenant))
    with pytest.raises(RestrictedError):
        member.delete()
    tenant.delete()
    assert not Withdrawal.objects.exists()


def test_the_admin_shows_amounts_as_read_and_why_a_withdrawal_failed_or_is_stuck(tenant, member, client_at):
    from datetime import timedelta

    from django.utils import timezone

    admin = make_member(tenant, "boss@alpha.example", Membership.Role.BROKER_ADMIN)
    TOTP.activate(admin, "JBSWY3DPEHPK3PXPJBSWY3DP")
    connection = connection_of(member, tenant)
    stuck = withdrawal_of(
        connection,
        amount=Decimal("4E+2"),
        total_debit=Decimal("1234.5"),
        submit_started_at=timezone.now() - timedelta(hours=3),
    )
    failed = withdrawal_of(
        connection,
        state="failed",
        exchange_withdrawal_id="",
        last_error="The address is not on the whitelist.",
        exchange_status="REJECTED",
    )
    client = client_at("alpha.localhost")
    client.force_login(admin)
    listing = " ".join(client.get("/admin/withdrawals/withdrawal/").content.decode().split())
    assert "4E+2" not in listing and ">400<" in listing and ">1,234.5<" in listing
    assert "Failed: The address is not on the whitelist. (exchange status REJECTED)." in listing
    assert "Stuck: Processing at the exchange since" in listing
    page = " ".join(client.get(f"/admin/withdrawals/withdrawal/{stuck.pk}/change/").content.decode().split())
    assert "Withdrawal of 400 USDT" in page and "Stuck: Processing at the exchange since" in page
    assert "400.000000000000000000" not in page and "1,234.5" in page
    assert client.get(f"/admin/withdrawals/withdrawal/{failed.pk}/change/").status_code == 200


def test_the_list_names_the_exchange_hides_abandoned_drafts_and_its_queries_do_not_grow(tenant, member, client_at):
    connection = connection_of(member, tenant)
    client = client_at("alpha.localhost")
    client.force_login(member)
    client.get("/withdrawals/")  # the session and the user are loaded once the same way on every page

    def listing_queries() -> tuple[int, str]:
        # The tenant's host, the session, the user, the membership, the user's withdrawals with their connections.
        with exact_queries(5) as queries:
            page = client.get("/withdrawals/").content.decode()
        return len(queries), page

    withdrawal_of(connection)
    one, _ = listing_queries()
    withdrawal_of(connection, state="succeeded", completed_at=timezone.now())
    recent_draft = withdrawal_of(
        connection,
        state="draft",
        exchange_withdrawal_id="",
        total_debit=None,
        amount_received=None,
        service_fee=None,
        chain_fee=None,
    )
    left = withdrawal_of(
        connection,
        state="draft",
        exchange_withdrawal_id="",
        total_debit=None,
        amount_received=None,
        service_fee=None,
        chain_fee=None,
    )
    Withdrawal.objects.filter(pk=left.pk).update(updated_at=timezone.now() - timedelta(hours=2))
    many, page = listing_queries()
    assert many == one
    assert f'data-withdrawal="{recent_draft.pk}"' in page and f'data-withdrawal="{left.pk}"' not in page
    assert page.count('<td data-label="Exchange">KuCoin</td>') == 3
    # The abandoned draft is kept and still continues from its own page.
    assert client.get(f"/withdrawals/{left.pk}/").status_code == 302


@pytest.mark.parametrize(
    "exchange, permissions, steps",
    [
        (
            "kucoin",
            ["API_COMMON", "API_WITHDRAW_OAUTH"],
            ["Details", "Preview", "Confirm it is you", "Exchange verification", "Status"],
        ),
        # Kraken asks for no codes of its own: its step 4 only sends the withdrawal.
        (
            "kraken",
            ["account.fast-api-key:funds-withdraw"],
            ["Details", "Preview", "Confirm it is you", "Send", "Status"],
        ),
    ],
)
def test_the_step_indicator_lists_the_steps_of_this_exchanges_flow(
    tenant, member, client_at, exchange, permissions, steps
):
    withdrawal = withdrawal_of(connection_of(member, tenant, exchange, permissions), exchange=exchange)
    client = client_at("alpha.localhost")
    client.force_login(member)
    page = client.get(f"/withdrawals/{withdrawal.pk}/").content.decode()
    listed = re.findall(r"<li[^>]*>\d\. ([^<✓]+?)(?: ✓)?</li>", page.split('class="wizard-steps"')[1].split("</ol>")[0])
    assert listed == steps
    assert "Step 5 of 5:</strong> Status" in page
