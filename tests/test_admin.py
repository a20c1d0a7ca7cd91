import base64

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding

from broker_portal import services
from broker_portal.audit import record_audit_event
from broker_portal.models import AuditEvent, ExchangeCredential, Membership, User
from connectors.models import ExchangeConnection

from .conftest import make_member

pytestmark = pytest.mark.django_db


def credential_for(tenant, exchange="kucoin"):
    return ExchangeCredential.objects.create(
        tenant=tenant, exchange=exchange, client_id=f"{tenant.slug}-{exchange}", client_secret="s3cret-value",
        authorize_base_url="https://auth.test", api_base_url="https://api.test",
    )


@pytest.fixture
def admin_client(tenant, client_at):
    admin = make_member(tenant, "boss@alpha.example", Membership.Role.BROKER_ADMIN)
    TOTP.activate(admin, "JBSWY3DPEHPK3PXPJBSWY3DP")
    client = client_at("alpha.localhost")
    client.force_login(admin)
    return client


@pytest.fixture
def two_tenants_of_rows(tenant, other_tenant):
    """Every tenant-owned model, once in each tenant."""
    rows = {}
    for t in (tenant, other_tenant):
        user = make_member(t, f"someone@{t.slug}.example")
        rows[t.slug] = {
            "user": user,
            "membership": Membership.objects.get(user=user),
            "exchangecredential": credential_for(t),
            "auditevent": record_audit_event(tenant=t, action=f"test.{t.slug}", actor=user),
            "exchangeconnection": ExchangeConnection.objects.create(tenant=t, user=user, exchange="kucoin",
                                                                    access_token=f"token-of-{t.slug}"),
            "tenant": t,
        }
    return rows


MODELS = {"tenant": "broker_portal", "user": "broker_portal", "membership": "broker_portal",
          "exchangecredential": "broker_portal", "auditevent": "broker_portal", "exchangeconnection": "connectors"}


@pytest.mark.parametrize("model", MODELS)
def test_broker_admin_sees_and_opens_only_own_tenant_rows(admin_client, two_tenants_of_rows, model):
    own, foreign = two_tenants_of_rows["alpha"][model], two_tenants_of_rows["beta"][model]
    base = f"/admin/{MODELS[model]}/{model}"
    changelist = admin_client.get(f"{base}/")
    assert changelist.status_code == 200
    assert f"{base}/{own.pk}/change/" in changelist.content.decode()
    assert f"{base}/{foreign.pk}/change/" not in changelist.content.decode()
    assert admin_client.get(f"{base}/{own.pk}/change/").status_code == 200
    # Django's admin answers a row outside the queryset like a missing one: back to the index.
    response = admin_client.get(f"{base}/{foreign.pk}/change/")
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert admin_client.get(f"{base}/{foreign.pk + 10_000}/change/")["Location"] == "/admin/"


def test_connection_pages_in_the_admin_show_no_token(admin_client, two_tenants_of_rows):
    own = two_tenants_of_rows["alpha"]["exchangeconnection"]
    page = admin_client.get(f"/admin/connectors/exchangeconnection/{own.pk}/change/").content.decode()
    assert "token-of-alpha" not in page and "kucoin" in page.lower()


def test_foreign_key_choices_offer_only_own_tenant_rows(admin_client, two_tenants_of_rows):
    own = two_tenants_of_rows["alpha"]["membership"]
    page = admin_client.get(f"/admin/broker_portal/membership/{own.pk}/change/").content.decode()
    assert "someone@alpha.example" in page and "someone@beta.example" not in page
    assert "Beta Broker" not in page


def test_credential_saved_by_broker_admin_lands_in_their_tenant_masked_and_audited(admin_client, tenant):
    response = admin_client.post("/admin/broker_portal/exchangecredential/add/", {
        "exchange": "okx", "is_enabled": "on", "client_id": "okx-client", "client_type": "confidential",
        "new_client_secret": "write-only-secret", "redirect_uris": "http://alpha.localhost/connect/okx/callback/",
        "allowed_permissions": "read_only\ntrade", "default_permissions": "read_only",
        "authorize_base_url": "https://www.okx.test", "api_base_url": "https://www.okx.test",
        "service_ip_list": "10.0.0.1", "trading_ip_list": "", "settings": "{}",
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    credential = ExchangeCredential.objects.get(client_id="okx-client")
    assert credential.tenant == tenant and credential.client_secret == "write-only-secret"
    assert credential.redirect_uris == ["http://alpha.localhost/connect/okx/callback/"]
    assert credential.allowed_permissions == ["read_only", "trade"]
    event = AuditEvent.objects.get(action="credential.created")
    assert event.tenant == tenant and "client_secret" in event.details["changed"]
    assert "write-only-secret" not in str(event.details)
    page = admin_client.get(f"/admin/broker_portal/exchangecredential/{credential.pk}/change/").content.decode()
    assert "write-only-secret" not in page and "(set)" in page


def test_unknown_permissions_are_refused(admin_client):
    response = admin_client.post("/admin/broker_portal/exchangecredential/add/", {
        "exchange": "okx", "client_id": "okx-client", "client_type": "confidential",
        "allowed_permissions": "read_only\nwithdraw_everything", "default_permissions": "trade",
        "authorize_base_url": "https://www.okx.test", "api_base_url": "https://www.okx.test", "settings": "{}",
    })
    assert response.status_code == 200
    assert "Not a OKX permission: withdraw_everything" in response.content.decode()
    assert not ExchangeCredential.objects.exists()


def test_audit_log_is_read_only(admin_client, two_tenants_of_rows):
    event = two_tenants_of_rows["alpha"]["auditevent"]
    assert admin_client.get("/admin/broker_portal/auditevent/add/").status_code == 403
    assert admin_client.post(f"/admin/broker_portal/auditevent/{event.pk}/delete/").status_code == 403
    page = admin_client.get(f"/admin/broker_portal/auditevent/{event.pk}/change/").content.decode()
    assert 'name="action"' not in page


def test_broker_admin_adds_a_member_to_their_own_tenant(admin_client, tenant):
    response = admin_client.post("/admin/broker_portal/user/add/", {
        "email": "hired@alpha.example", "first_name": "Ada", "last_name": "L", "password": "a-long-passphrase",
        "role": "accountant",
    })
    assert response.status_code == 302
    membership = Membership.objects.get(user__email="hired@alpha.example")
    assert membership.tenant == tenant and membership.role == "accountant"
    assert AuditEvent.objects.filter(action="member.created", tenant=tenant).exists()


def test_superuser_sees_every_tenant(two_tenants_of_rows, client_at):
    superuser = User.objects.create_superuser(email="root@platform.example", password="x")
    TOTP.activate(superuser, "JBSWY3DPEHPK3PXPJBSWY3DP")
    client = client_at("alpha.localhost")
    client.force_login(superuser)
    page = client.get("/admin/broker_portal/exchangecredential/").content.decode()
    for slug in ("alpha", "beta"):
        assert f"/admin/broker_portal/exchangecredential/{two_tenants_of_rows[slug]['exchangecredential'].pk}/" in page


def test_rsa_key_pair_action_shows_only_the_public_half(admin_client, tenant):
    credential = credential_for(tenant, "kraken")
    admin_client.post("/admin/broker_portal/exchangecredential/", {
        "action": "generate_rsa_key_pair", "_selected_action": [credential.pk],
    })
    credential.refresh_from_db()
    page = admin_client.get(f"/admin/broker_portal/exchangecredential/{credential.pk}/change/").content.decode()
    assert "BEGIN PUBLIC KEY" in page and "PRIVATE KEY" not in page
    assert AuditEvent.objects.filter(action="credential.rsa_key_generated").count() == 1


def test_kraken_issued_secret_pasted_in_the_admin_is_decrypted_and_stored(admin_client, tenant):
    credential = services.credential_generate_rsa_key_pair(credential=credential_for(tenant, "kraken"))
    public_key = serialization.load_pem_public_key(credential.rsa_public_key.encode())
    issued = base64.b64encode(public_key.encrypt(b"issued-by-kraken", padding.PKCS1v15())).decode()
    form = {
        "exchange": "kraken", "is_enabled": "on", "client_id": credential.client_id, "client_type": "confidential",
        "authorize_base_url": "https://id.kraken.test", "api_base_url": "https://api.kraken.test", "settings": "{}",
    }
    url = f"/admin/broker_portal/exchangecredential/{credential.pk}/change/"
    refused = admin_client.post(url, {**form, "issued_encrypted_client_secret": "bm90IGZvciB1cw=="})
    assert "not encrypted to this credential" in refused.content.decode()
    assert admin_client.post(url, {**form, "issued_encrypted_client_secret": issued}).status_code == 302
    credential.refresh_from_db()
    assert credential.client_secret == "issued-by-kraken"


def test_application_form_page_assembles_what_the_exchange_asks_and_flags_gaps(admin_client, tenant, other_tenant):
    kraken = credential_for(tenant, "kraken")
    kraken.redirect_uris = ["https://alpha.localhost/connect/kraken/callback/"]
    kraken.allowed_permissions = ["account.info:basic"]
    kraken.save()
    page = admin_client.get(f"/admin/broker_portal/exchangecredential/{kraken.pk}/application/").content.decode()
    assert "https://alpha.localhost/connect/kraken/callback/" in page and "account.info:basic" in page
    assert "Still missing: Logo, RSA public key" in page
    services.credential_generate_rsa_key_pair(credential=kraken)
    page = admin_client.get(f"/admin/broker_portal/exchangecredential/{kraken.pk}/application/").content.decode()
    assert "BEGIN PUBLIC KEY" in page and "Still missing: Logo." in page

    kucoin = credential_for(tenant, "kucoin")
    page = admin_client.get(f"/admin/broker_portal/exchangecredential/{kucoin.pk}/application/").content.decode()
    assert "IP list for requesting the Fast API service" in page and "IP list for trading" in page

    foreign = credential_for(other_tenant, "okx")
    response = admin_client.get(f"/admin/broker_portal/exchangecredential/{foreign.pk}/application/")
    assert response.status_code == 302 and response["Location"] == "/admin/"
