"""feeDeductType takes KuCoin's meaning: INTERNAL = the fee comes out of the amount, EXTERNAL = out of the main
account (KuCoin's withdrawal v3, universal SDK spec and ccxt; level A). Until now the portal had them reversed.

No stored withdrawal changes what it means:
- Kraken rows never send the code, and KuCoin rows that KuCoin never executed (draft, previewed, stepped up,
  cancelled) keep what their preview showed: their code is swapped, their figures stay.
- KuCoin rows waiting for codes hold a verification KuCoin started with the old code, which it reads the other
  way round from the preview the user approved: their code is swapped and the verification dropped, so the user
  reviews the withdrawal and sends it again (as a submit the exchange never executed is reset).
- KuCoin rows already sent keep the code KuCoin received (now named for what KuCoin did with it); their total
  debit and amount received are set to what KuCoin deducted, where that left the recipient something.
Every row touched gets an audit event with its figures before and after.
"""

from django.db import migrations, models

SWAPPED = {"INTERNAL": "EXTERNAL", "EXTERNAL": "INTERNAL"}
SENT = ("submitting", "unknown", "processing", "succeeded", "failed")


def money(value) -> str | None:
    return None if value is None else f"{value.normalize():f}"


def figures(row) -> dict:
    return {"fee_deduct_type": row.fee_deduct_type, "total_debit": money(row.total_debit),
            "amount_received": money(row.amount_received), "state": row.state}


def exchange_figures(row) -> tuple:
    """What the exchange deducts for the row's code, read in KuCoin's meaning."""
    fees = (row.chain_fee or 0) + (row.service_fee or 0)
    if row.fee_deduct_type == "EXTERNAL":
        return row.amount + fees, row.amount
    return row.amount, row.amount - fees


def forwards(apps, schema_editor):
    Withdrawal = apps.get_model("withdrawals", "Withdrawal")
    AuditEvent = apps.get_model("broker_portal", "AuditEvent")
    for row in Withdrawal.objects.order_by("pk").iterator():
        before = figures(row)
        if row.exchange != "kucoin" or row.state not in (*SENT, "factors_requested"):
            row.fee_deduct_type = SWAPPED[row.fee_deduct_type]
            how = "code swapped, meaning kept"
        elif row.state == "factors_requested":
            row.fee_deduct_type = SWAPPED[row.fee_deduct_type]
            row.state = "previewed"
            row.exchange_transaction_id, row.factors_all, row.factors_sent = "", [], []
            row.stepped_up_at = None
            row.last_error = ("KuCoin's verification had the fee deduction the other way round from your preview. "
                              "Review the withdrawal and send it again.")
            how = "code swapped, verification dropped"
        else:
            total_debit, amount_received = exchange_figures(row)
            if row.total_debit is None or amount_received <= 0:
                how = "code kept as sent; figures kept (the exchange's reading leaves nothing to receive)"
            else:
                row.total_debit, row.amount_received = total_debit, amount_received
                how = "code kept as sent; figures set to what the exchange deducted"
        row.save()
        AuditEvent.objects.create(
            tenant_id=row.tenant_id, action="withdrawal.fee_deduct_type_migrated",
            target_type="withdrawals.Withdrawal", target_id=str(row.pk), target_repr=f"Withdrawal {row.pk}"[:200],
            details={"before": before, "after": figures(row), "how": how},
        )


class Migration(migrations.Migration):

    dependencies = [
        ('broker_portal', '0002_orderings_without_joins'),
        ('withdrawals', '0002_restrict_user_and_connection_deletes'),
    ]

    operations = [
        migrations.AlterField(
            model_name='withdrawal',
            name='fee_deduct_type',
            field=models.CharField(choices=[('INTERNAL', 'Fees from the amount (recipient gets less)'), ('EXTERNAL', 'Fees from my balance (recipient gets the full amount)')], default='EXTERNAL', max_length=8),
        ),
        # Irreversible in meaning: going back would need the old reading, which no stored figure depends on.
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
