# ExchangeCredential moves here from the core app (broker_portal/migrations/0007_credential_moves_to_connectors.py)
# in the state only: it keeps its table (db_table), rows, sequence and constraints. Its content type follows, so
# the admin's history of each credential stays with it.

import broker_portal.uploads
import connectors.exchanges
import django.db.models.deletion
import fernet_fields.fields
from django.db import migrations, models


def content_type_follows(apps, schema_editor, *, old="broker_portal", new="connectors"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    if not ContentType.objects.using(db).filter(app_label=new, model="exchangecredential").exists():
        ContentType.objects.using(db).filter(app_label=old, model="exchangecredential").update(app_label=new)
    ContentType.objects.clear_cache()


def content_type_goes_back(apps, schema_editor):
    content_type_follows(apps, schema_editor, old="connectors", new="broker_portal")


class Migration(migrations.Migration):

    dependencies = [
        ('broker_portal', '0007_credential_moves_to_connectors'),
        ('connectors', '0006_refresh_claim_and_sweep_indexes'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='ExchangeCredential',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('exchange', models.CharField(choices=connectors.exchanges.exchange_choices, max_length=32)),
                        ('server_slug', models.SlugField(blank=True, default='', help_text='Only for an exchange with several servers: names this one in URLs.', max_length=40)),
                        ('is_enabled', models.BooleanField(default=True)),
                        ('logo', models.FileField(blank=True, help_text='PNG, JPEG, WebP or SVG, at most 256 KB: shown on the Connect card.', upload_to='credential-logos/', validators=[broker_portal.uploads.LogoValidator()])),
                        ('client_id', models.CharField(max_length=200)),
                        ('client_secret', fernet_fields.fields.EncryptedTextField(blank=True, default='')),
                        ('client_type', models.CharField(choices=[('confidential', 'Confidential (server keeps a secret)'), ('public', 'Public (no secret; PKCE)')], default='confidential', max_length=20)),
                        ('redirect_uris', models.JSONField(blank=True, default=list)),
                        ('allowed_permissions', models.JSONField(blank=True, default=list)),
                        ('default_permissions', models.JSONField(blank=True, default=list)),
                        ('service_ip_list', models.JSONField(blank=True, default=list, help_text='IPs the portal calls the exchange from.')),
                        ('trading_ip_list', models.JSONField(blank=True, default=list, help_text='IPs that trade with the user keys.')),
                        ('authorize_base_url', models.URLField(help_text='Where users are sent to authorize (sandbox or production).')),
                        ('api_base_url', models.URLField(help_text='Where the portal calls the exchange (sandbox or production).')),
                        ('extra_hosts', models.JSONField(blank=True, default=list, help_text="Hosts outside the exchange's own that a superuser allowed.")),
                        ('rsa_private_key', fernet_fields.fields.EncryptedTextField(blank=True, default='')),
                        ('rsa_public_key', models.TextField(blank=True, default='')),
                        ('broker_key', fernet_fields.fields.EncryptedTextField(blank=True, default='')),
                        ('settings', models.JSONField(blank=True, default=dict)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='exchange_credentials', to='broker_portal.tenant')),
                    ],
                    options={
                        'db_table': 'broker_portal_exchangecredential',
                        'ordering': ['tenant_id', 'exchange'],
                        'constraints': [models.UniqueConstraint(condition=models.Q(('server_slug', '')), fields=('tenant', 'exchange'), name='credential_one_per_exchange', violation_error_message='Exchange credential with this Tenant and Exchange already exists.'), models.UniqueConstraint(condition=models.Q(('server_slug', ''), _negated=True), fields=('tenant', 'exchange', 'server_slug'), name='credential_one_per_server', violation_error_message='This tenant already has a server with this slug.')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_type_follows, content_type_goes_back),
    ]
