# ExchangeCredential now lives in the connectors app (connectors/migrations/0007_credential_moves_here.py): it
# leaves the core's state only; its table, rows and constraints stay as they are.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('broker_portal', '0006_changelist_indexes'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='ExchangeCredential')],
            database_operations=[],
        ),
    ]
