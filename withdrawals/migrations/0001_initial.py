
import django.db.models.deletion
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('broker_portal', '0002_orderings_without_joins'),
        ('connectors', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Withdrawal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('exchange', models.CharField(max_length=32)),
                ('idempotency_key', models.UUIDField(default=uuid.uuid4, editable=False)),
                ('state', models.CharField(choices=[('draft', 'Details entered'), ('previewed', 'Fees previewed'), ('stepped_up', 'Identity confirmed'), ('factors_requested', 'Waiting for codes'), ('submitting', 'Sending'), ('unknown', 'Checking with the exchange'), ('processing', 'Processing at the exchange'), ('succeeded', 'Completed'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], default='draft', max_length=20)),
                ('currency', models.CharField(max_length=16)),
                ('chain', models.CharField(blank=True, default='', max_length=32)),
                ('withdraw_type', models.CharField(choices=[('ADDRESS', 'Address'), ('UID', 'KuCoin UID'), ('MAIL', 'E-mail'), ('PHONE', 'Phone')], default='ADDRESS', max_length=8)),
                ('destination', models.CharField(max_length=255)),
                ('memo', models.CharField(blank=True, default='', max_length=128)),
                ('remark', models.CharField(blank=True, default='', max_length=64)),
                ('amount', models.DecimalField(decimal_places=18, max_digits=38)),
                ('fee_deduct_type', models.CharField(choices=[('INTERNAL', 'Fees from my balance (recipient gets the full amount)'), ('EXTERNAL', 'Fees from the amount (recipient gets less)')], default='INTERNAL', max_length=8)),
                ('precision', models.PositiveSmallIntegerField(default=8)),
                ('chain_fee', models.DecimalField(blank=True, decimal_places=18, max_digits=38, null=True)),
                ('service_fee', models.DecimalField(blank=True, decimal_places=18, max_digits=38, null=True)),
                ('total_debit', models.DecimalField(blank=True, decimal_places=18, max_digits=38, null=True)),
                ('amount_received', models.DecimalField(blank=True, decimal_places=18, max_digits=38, null=True)),
                ('price_usdt', models.DecimalField(blank=True, decimal_places=18, max_digits=38, null=True)),
                ('price_at', models.DateTimeField(blank=True, null=True)),
                ('quote_expires_at', models.DateTimeField(blank=True, null=True)),
                ('stepped_up_at', models.DateTimeField(blank=True, null=True)),
                ('exchange_transaction_id', models.CharField(blank=True, default='', max_length=128)),
                ('factors_all', models.JSONField(blank=True, default=list)),
                ('factors_sent', models.JSONField(blank=True, default=list)),
                ('factors_requested_at', models.DateTimeField(blank=True, null=True)),
                ('submit_started_at', models.DateTimeField(blank=True, null=True)),
                ('exchange_withdrawal_id', models.CharField(blank=True, default='', max_length=128)),
                ('exchange_status', models.CharField(blank=True, default='', max_length=32)),
                ('last_error', models.CharField(blank=True, default='', max_length=500)),
                ('submitted_at', models.DateTimeField(blank=True, null=True)),
                ('completed_at', models.DateTimeField(blank=True, null=True)),
                ('last_polled_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('connection', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='withdrawals', to='connectors.exchangeconnection')),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='withdrawals', to='broker_portal.tenant')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='withdrawals', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='FactorRequest',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('withdraw_type', models.CharField(max_length=8)),
                ('requested_at', models.DateTimeField(db_index=True)),
                ('connection', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='connectors.exchangeconnection')),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='broker_portal.tenant')),
                ('withdrawal', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='factor_requests', to='withdrawals.withdrawal')),
            ],
            options={
                'ordering': ['-requested_at'],
            },
        ),
        migrations.CreateModel(
            name='WithdrawalLimit',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('scope', models.CharField(choices=[('per_user', 'Each user'), ('tenant', 'Whole tenant')], max_length=16)),
                ('window_hours', models.PositiveIntegerField(default=24)),
                ('max_usdt', models.DecimalField(decimal_places=2, max_digits=20)),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='withdrawal_limits', to='broker_portal.tenant')),
            ],
            options={
                'ordering': ['tenant_id', 'scope'],
            },
        ),
        migrations.AddIndex(
            model_name='withdrawal',
            index=models.Index(fields=['state', 'last_polled_at'], name='withdrawal_open_for_polling'),
        ),
        migrations.AddConstraint(
            model_name='withdrawal',
            constraint=models.UniqueConstraint(fields=('tenant', 'user', 'idempotency_key'), name='withdrawal_idempotency_key'),
        ),
        migrations.AddConstraint(
            model_name='withdrawal',
            constraint=models.UniqueConstraint(condition=models.Q(('exchange_withdrawal_id', ''), _negated=True), fields=('connection', 'exchange_withdrawal_id'), name='withdrawal_one_row_per_exchange_id'),
        ),
        migrations.AddConstraint(
            model_name='withdrawal',
            constraint=models.CheckConstraint(condition=models.Q(('amount__gt', 0)), name='withdrawal_amount_positive'),
        ),
        migrations.AddConstraint(
            model_name='withdrawal',
            constraint=models.CheckConstraint(condition=models.Q(('state__in', ['draft', 'previewed', 'stepped_up', 'factors_requested', 'submitting', 'unknown', 'processing', 'succeeded', 'failed', 'cancelled'])), name='withdrawal_state_known'),
        ),
        migrations.AddConstraint(
            model_name='withdrawal',
            constraint=models.CheckConstraint(condition=models.Q(('fee_deduct_type__in', ['INTERNAL', 'EXTERNAL'])), name='withdrawal_fee_deduct_type_known'),
        ),
        migrations.AddConstraint(
            model_name='withdrawal',
            constraint=models.CheckConstraint(condition=models.Q(('state__in', ['draft', 'cancelled']), models.Q(('amount_received__gt', 0), ('chain_fee__gte', 0), ('service_fee__gte', 0), ('total_debit__isnull', False)), _connector='OR'), name='withdrawal_quoted_past_draft'),
        ),
        migrations.AddConstraint(
            model_name='withdrawal',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('state__in', ['processing', 'succeeded']), _negated=True), models.Q(('exchange_withdrawal_id', ''), _negated=True), _connector='OR'), name='withdrawal_sent_has_exchange_id'),
        ),
        migrations.AddConstraint(
            model_name='withdrawallimit',
            constraint=models.UniqueConstraint(fields=('tenant', 'scope', 'window_hours'), name='withdrawal_limit_one_per_window'),
        ),
        migrations.AddConstraint(
            model_name='withdrawallimit',
            constraint=models.CheckConstraint(condition=models.Q(('max_usdt__gte', 0)), name='withdrawal_limit_not_negative'),
        ),
        migrations.AddConstraint(
            model_name='withdrawallimit',
            constraint=models.CheckConstraint(condition=models.Q(('window_hours__gt', 0)), name='withdrawal_limit_window_positive'),
        ),
    ]
