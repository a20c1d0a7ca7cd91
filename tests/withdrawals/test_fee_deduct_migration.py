"""Migration 0003 gives feeDeductType KuCoin's meaning without changing what a stored withdrawal means."""

import importlib
from decimal import Decimal

import pytest
from django.apps import apps

from broker_portal.models import AuditEvent, Tenant, User
from connectors.models import ExchangeConnection as Connection
from withdrawals.models import Withdrawal

pytestmark = pytest.mark.django_db

# The data step, run on rows as 0002 left them (migrating the schema back and forth takes minutes).
forwards = importlib.import_module("withdrawals.migrations.0003_fee_deduct_type_kucoin_meaning").forwards


def test_stored_withdrawals_keep_their_meaning_and_each_change_is_audited():
    tenant = Tenant.objects.create(name="T", slug="t")
    user = User.objects.create(email="u@t.example")
    kucoin = Connection.objects.create(tenant=tenant, user=user, exchange="kucoin")
    kraken = Connection.objects.create(tenant=tenant, user=user, exchange="kraken", exchange_account_id="k")
    fees = {"chain_fee": Decimal("0.0005"), "service_fee": Decimal("0.0004"), "amount": Decimal("0.01")}

    def row(connection_, state, code, **extra):
        # The old reading: INTERNAL = fees from the balance, EXTERNAL = fees from the amount.
        debit, received = (
            (Decimal("0.0109"), Decimal("0.01")) if code == "INTERNAL" else (Decimal("0.01"), Decimal("0.0091"))
        )
        return Withdrawal.objects.create(
            tenant=tenant,
            user=user,
            connection=connection_,
            exchange=connection_.exchange,
            state=state,
            fee_deduct_type=code,
            destination="addr",
            total_debit=debit,
            amount_received=received,
            **fees,
            **extra,
        ).pk

    previewed = row(kucoin, "previewed", "INTERNAL")
    kraken_sent = row(kraken, "succeeded", "EXTERNAL", exchange_withdrawal_id="K1")
    waiting = row(kucoin, "factors_requested", "INTERNAL", exchange_transaction_id="tx1")
    sent = row(kucoin, "succeeded", "INTERNAL", exchange_withdrawal_id="W1")

    forwards(apps, None)
    by_pk = Withdrawal.objects.in_bulk()
    # Not at the exchange: the code names what the preview showed (fees from the balance), figures unchanged.
    assert by_pk[previewed].fee_deduct_type == "EXTERNAL" and by_pk[previewed].total_debit == Decimal("0.0109")
    # Kraken takes its fee out of the amount: now INTERNAL, figures unchanged.
    assert by_pk[kraken_sent].fee_deduct_type == "INTERNAL" and by_pk[kraken_sent].amount_received == Decimal("0.0091")
    # KuCoin's verification was started with the reversed code: dropped, the user reviews and sends again.
    assert by_pk[waiting].fee_deduct_type == "EXTERNAL" and by_pk[waiting].state == "previewed"
    assert by_pk[waiting].exchange_transaction_id == "" and "other way round" in by_pk[waiting].last_error
    # Sent: KuCoin got INTERNAL and took the fees from the amount; the figures now say so.
    assert by_pk[sent].fee_deduct_type == "INTERNAL"
    assert (by_pk[sent].total_debit, by_pk[sent].amount_received) == (Decimal("0.01"), Decimal("0.0091"))
    events = AuditEvent.objects.filter(action="withdrawal.fee_deduct_type_migrated")
    assert sorted(int(event.target_id) for event in events) == sorted([previewed, kraken_sent, waiting, sent])
    assert events.get(target_id=str(sent)).details["before"]["total_debit"] == "0.0109"
