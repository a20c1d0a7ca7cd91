from django.db import migrations, models

# Django's own AlterField would drop and re-add the foreign key, validating every row under lock; only the index
# goes (its name is Django's for this field on every backend).
TENANT_INDEX = "connectors_exchangeconnection_tenant_id_80685488"


class Migration(migrations.Migration):
    dependencies = [
        ("broker_portal", "0008_tenant_reference_currency"),
        ("connectors", "0008_connection_health_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="exchangeconnection",
                    name="tenant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="connections",
                        to="broker_portal.tenant",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{TENANT_INDEX}"',
                    reverse_sql=f'CREATE INDEX "{TENANT_INDEX}" ON "connectors_exchangeconnection" ("tenant_id")',
                ),
            ],
        ),
    ]
