"""Payout batches against the sandbox: created once per reference, each user's address resolved at payout time
(a network mismatch and a missing permission refused by name), the deposits credited on the sandbox's chain and
matched from each exchange's deposit history: received, late, missing."""

from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.db import transaction
from django.utils import timezone

from broker_portal.models import AuditEvent
from payouts import services
from payouts.models import Payout, PayoutBatch
from payouts.services import PayoutError, PayoutItem
from payouts.tasks import confirm_connection_payouts

from .helpers import TRC20, connect_payee, credit_deposit

pytestmark = pytest.mark.django_db(transaction=True)


def batch_of(portal, payees, amounts, name="Airdrop"):
    items = [
        PayoutItem(
            connection_id=connection.pk,
            asset="USDT",
            network=TRC20[exchange_id],
            amount=Decimal(amounts[exchange_id]),
            reference=f"{name}-{exchange_id}",
        )
        for exchange_id, connection in payees.items()
    ]
    return services.payout_batch_create(tenant=portal["tenant"], name=name, items=items)


def test_a_batch_of_three_users_is_confirmed_from_their_deposit_history(portal, payees):
    amounts = {"kucoin": "12.5", "okx": "7.000000000000000001", "kraken": "30"}
    batch, created = batch_of(portal, payees, amounts)
    assert created and [p.status for p in batch.payouts.all()] == ["pending"] * 3
    assert services.payout_batch_resolve(batch=batch) == {"resolved": 3}
    payouts = {payout.connection.exchange: payout for payout in batch.payouts.select_related("connection")}
    for exchange_id, payout in payouts.items():
        assert payout.address.startswith("T") and payout.resolved_at, exchange_id
        assert payout.network_name
    # The broker's wallet sends; it records KuCoin's and OKX's transaction ids, not Kraken's.
    for exchange_id, payout in payouts.items():
        sent = credit_deposit(
            portal["url"], exchange_id, payout.address, amounts[exchange_id], txid=f"0xfeed{exchange_id}"
        )
        if exchange_id != "kraken":
            services.payout_record_sent(payout=payout, txid=sent["txid"])
    for payout in payouts.values():
        assert services.payouts_confirm_connection(connection=payout.connection) == {"received": 1}
    confirmed = {payout.connection.exchange: payout for payout in batch.payouts.select_related("connection", "deposit")}
    for exchange_id, payout in confirmed.items():
        assert payout.status == Payout.Status.RECEIVED and payout.deposit.amount == Decimal(amounts[exchange_id])
        assert payout.deposit.txid == f"0xfeed{exchange_id}" and payout.received_at
    actions = list(AuditEvent.objects.filter(action__startswith="payout").values_list("action", flat=True))
    assert sorted(actions) == sorted(
        ["payout_batch.created", *["payout.resolved"] * 3, *["payout.sent"] * 2, *["payout.confirmed"] * 3]
    )
    # Nothing left to look for: a second pass reads nothing and changes nothing.
    assert services.connections_with_open_payouts() == []


def test_a_deposit_of_another_amount_or_transaction_confirms_nothing_and_the_payout_turns_late_then_missing(
    portal, payees, settings
):
    settings.PAYOUTS_LATE_AFTER_MINUTES, settings.PAYOUTS_MISSING_AFTER_HOURS = 30, 48
    connection = payees["kucoin"]
    batch, _ = services.payout_batch_create(
        tenant=portal["tenant"],
        name="Rewards",
        items=[
            PayoutItem(connection_id=connection.pk, asset="USDT", network="trx", amount=Decimal("5"), reference="r-1")
        ],
    )
    payout = batch.payouts.get()
    services.payout_resolve(payout=payout)
    payout.refresh_from_db()
    services.payout_record_sent(payout=payout, txid="0xexpected")
    credit_deposit(portal["url"], "kucoin", payout.address, "4.99", txid="0xshort")  # another amount
    credit_deposit(portal["url"], "kucoin", payout.address, "5", txid="0xsomeoneelse")  # another transaction
    now = timezone.now()
    assert services.payouts_confirm_connection(connection=connection, now=now) == {"sent": 1}
    assert services.payouts_confirm_connection(connection=connection, now=now + timedelta(minutes=31)) == {"late": 1}
    assert services.payouts_confirm_connection(connection=connection, now=now + timedelta(hours=49)) == {"missing": 1}
    # It arrives after all: received, however late.
    credit_deposit(portal["url"], "kucoin", payout.address, "5", txid="0xexpected")
    assert services.payouts_confirm_connection(connection=connection, now=now + timedelta(hours=50)) == {"received": 1}
    payout.refresh_from_db()
    assert payout.deposit.txid == "0xexpected"
    assert list(
        AuditEvent.objects.filter(
            target_id=str(payout.pk), action__in=["payout.late", "payout.missing", "payout.confirmed"]
        )
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["payout.late", "payout.missing", "payout.confirmed"]


def test_the_same_batch_again_is_the_first_one_and_a_reused_reference_is_refused(portal, payees):
    amounts = {"kucoin": "1", "okx": "2", "kraken": "3"}
    first, created = batch_of(portal, payees, amounts)
    again, created_again = batch_of(portal, payees, amounts)
    assert created and not created_again and again.pk == first.pk and Payout.objects.count() == 3
    with pytest.raises(PayoutError) as changed:
        batch_of(portal, payees, {**amounts, "okx": "2.5"})
    assert changed.value.code == "reference_used" and "Airdrop-okx" in str(changed.value)
    with pytest.raises(PayoutError) as twice:
        services.payout_batch_create(
            tenant=portal["tenant"],
            name="Twice",
            items=[
                PayoutItem(payees["okx"].pk, "USDT", "USDT-TRC20", Decimal("1"), "same"),
                PayoutItem(payees["okx"].pk, "USDT", "USDT-TRC20", Decimal("1"), "same"),
            ],
        )
    assert "same appear twice" in str(twice.value)
    assert Payout.objects.count() == 3 and AuditEvent.objects.filter(action="payout_batch.created").count() == 1


def test_bad_input_is_refused_with_the_field_and_another_tenants_connection_is_not_found(portal, payees, other_tenant):
    from connectors.models import ExchangeConnection
    from tests.helpers import make_member

    stranger = ExchangeConnection.objects.create(
        tenant=other_tenant, exchange="kucoin", user=make_member(other_tenant, "s@beta.example")
    )
    with pytest.raises(PayoutError) as foreign:
        services.payout_batch_create(
            tenant=portal["tenant"], name="X", items=[PayoutItem(stranger.pk, "USDT", "trx", Decimal("1"), "x-1")]
        )
    assert foreign.value.fields == {"0": {"connection": "Not found."}}
    for amount, field in [(Decimal("0"), "amount"), (Decimal("1E-19"), "amount"), (Decimal("NaN"), "amount")]:
        with pytest.raises(PayoutError) as bad:
            services.payout_batch_create(
                tenant=portal["tenant"], name="X", items=[PayoutItem(payees["kucoin"].pk, "USDT", "trx", amount, "x-2")]
            )
        assert field in bad.value.fields["0"]
    with pytest.raises(PayoutError) as bad_asset:
        services.payout_batch_create(
            tenant=portal["tenant"],
            name="X",
            items=[PayoutItem(payees["kucoin"].pk, "US DT", "trx", Decimal("1"), "x-3")],
        )
    assert "asset" in bad_asset.value.fields["0"]
    assert Payout.objects.count() == 0


def test_a_network_mismatch_and_a_missing_permission_are_refused_by_name(portal, payees, sandbox_accounts):
    spot_only = connect_payee(portal, sandbox_accounts, "kucoin", "spot@live.example", permissions=["API_SPOT"])
    batch, _ = services.payout_batch_create(
        tenant=portal["tenant"],
        name="Mixed",
        items=[
            PayoutItem(payees["kucoin"].pk, "USDT", "USDT-TRC20", Decimal("1"), "m-1"),  # OKX's name, not KuCoin's
            PayoutItem(payees["okx"].pk, "BTC", "USDT-TRC20", Decimal("1"), "m-2"),  # BTC does not arrive on TRC20
            PayoutItem(spot_only.pk, "USDT", "trx", Decimal("1"), "m-3"),
        ],
    )
    assert services.payout_batch_resolve(batch=batch) == {"refused": 3}
    errors = dict(batch.payouts.values_list("reference", "error"))
    assert errors["m-1"].startswith("Network mismatch: Choose a network USDT arrives on: TRC20")
    assert errors["m-2"].startswith("Network mismatch: Choose a network BTC arrives on")
    assert "“General” permission" in errors["m-3"]
    assert set(batch.payouts.values_list("address", flat=True)) == {""}
    assert AuditEvent.objects.filter(action="payout.refused").count() == 3
    with pytest.raises(PayoutError) as unresolved:
        services.payout_record_sent(payout=batch.payouts.get(reference="m-1"), txid="0xabc")
    assert unresolved.value.code == "not_resolved"


def test_an_exchange_that_cannot_be_reached_leaves_the_payout_to_resolve_again(portal, payees):
    batch, _ = services.payout_batch_create(
        tenant=portal["tenant"],
        name="Retry",
        items=[PayoutItem(payees["okx"].pk, "USDT", "USDT-TRC20", Decimal("1"), "t-1")],
    )
    requests.post(
        f"{portal['url']}/sandbox/control/faults",
        json={"exchange": "okx", "endpoint": "deposit-address", "kind": "500", "count": 5},
        timeout=10,
    )
    services.payout_batch_resolve(batch=batch)
    payout = batch.payouts.get()
    assert (payout.status, payout.error) == (
        Payout.Status.PENDING,
        "OKX cannot be reached right now; resolve again in a moment.",
    )
    requests.delete(f"{portal['url']}/sandbox/control/faults", timeout=10)
    services.payout_batch_resolve(batch=batch)
    payout.refresh_from_db()
    assert payout.status == Payout.Status.RESOLVED and payout.error == ""


def test_checking_deposits_now_enqueues_one_read_per_connection_with_an_open_payout_after_commit(
    portal, payees, celery_broker_tasks
):
    batch, _ = batch_of(portal, payees, {"kucoin": "1", "okx": "2", "kraken": "3"})
    assert services.payout_batch_resolve(batch=batch) == {"resolved": 3}  # a pending payout has nothing to look for
    Payout.objects.filter(batch=batch, connection=payees["kraken"]).update(status=Payout.Status.RECEIVED)

    def reads():
        return sorted(task.args for task in celery_broker_tasks() if task.name == confirm_connection_payouts.name)

    with transaction.atomic():
        assert services.payouts_check_deposits(batches=PayoutBatch.objects.filter(pk=batch.pk)) == 2
        assert reads() == []
    assert reads() == sorted([[payees["kucoin"].pk], [payees["okx"].pk]])
