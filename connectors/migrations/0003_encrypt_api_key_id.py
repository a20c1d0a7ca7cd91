"""api_key_id is encrypted like the key it names (for OKX and Peatio it is the key): existing values are encrypted
into a new column, which then takes the old one's name."""

import fernet_fields.fields
from django.db import migrations


def encrypt_existing(apps, schema_editor):
    ExchangeConnection = apps.get_model("connectors", "ExchangeConnection")
    for connection in ExchangeConnection.objects.exclude(api_key_id="").only("pk", "api_key_id").iterator():
        ExchangeConnection.objects.filter(pk=connection.pk).update(encrypted_api_key_id=connection.api_key_id)


def decrypt_back(apps, schema_editor):
    ExchangeConnection = apps.get_model("connectors", "ExchangeConnection")
    for connection in ExchangeConnection.objects.only("pk", "encrypted_api_key_id").iterator():
        ExchangeConnection.objects.filter(pk=connection.pk).update(api_key_id=connection.encrypted_api_key_id)


class Migration(migrations.Migration):
    dependencies = [("connectors", "0002_refresh_health")]

    operations = [
        migrations.AddField(
            model_name="exchangeconnection", name="encrypted_api_key_id",
            field=fernet_fields.fields.EncryptedCharField(blank=True, default="", max_length=128,
                                                          help_text="The exchange's id of the key."),
        ),
        migrations.RunPython(encrypt_existing, decrypt_back),
        migrations.RemoveField(model_name="exchangeconnection", name="api_key_id"),
        migrations.RenameField(model_name="exchangeconnection", old_name="encrypted_api_key_id",
                               new_name="api_key_id"),
    ]
