import base64

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding

from broker_portal.audit import record_audit_event
from broker_portal.models import AuditEvent, Membership, User
from connectors import services
from connectors.models import ExchangeConnection, ExchangeCredential
from tests.helpers import make_member

pytestmark = pytest.mark.django_db


def credential_for(tenant, exchange="kucoin"):
    return ExchangeCredential.objects.create(
        tenant=tenant,
        exchange=exchange,
        client_id=f"{tenant.slug}-{exchange}",
        client_secret="s3cret-value",
        authorize_base_url="https://auth.test",
        api_base_url="https://api.test",
    )


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
            "exchangeconnection": ExchangeConnection.objects.create(
                tenant=t, user=user, exchange="kucoin", access_token=f"token-of-{t.slug}"
            ),
            "tenant": t,
        }
    return rows


MODELS = {
    "tenant": "broker_portal",
    "user": "broker_portal",
    "membership": "broker_portal",
    "exchangecredential": "connectors",
    "auditevent": "broker_portal",
    "exchangeconnection": "connectors",
}


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
    response = admin_client.post(
        "/admin/connectors/exchangecredential/add/",
        {
            "exchange": "okx",
            "is_enabled": "on",
            "client_id": "okx-client",
            "client_type": "confidential",
            "new_client_secret": "write-only-secret",
            "redirect_uris": "http://alpha.localhost/connect/okx/callback/",
            "allowed_permissions": "read_only\ntrade",
            "default_permissions": "read_only",
            "authorize_base_url": "https://www.okx.test",
            "api_base_url": "https://www.okx.test",
            "service_ip_list": "10.0.0.1",
            "trading_ip_list": "",
            "settings": "{}",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    credential = ExchangeCredential.objects.get(client_id="okx-client")
    assert credential.tenant == tenant and credential.client_secret == "write-only-secret"
    assert credential.redirect_uris == ["http://alpha.localhost/connect/okx/callback/"]
    assert credential.allowed_permissions == ["read_only", "trade"]
    event = AuditEvent.objects.get(action="credential.created")
    assert event.tenant == tenant and "client_secret" in event.details["changed"]
    assert "write-only-secret" not in str(event.details)
    page = admin_client.get(f"/admin/connectors/exchangecredential/{credential.pk}/change/").content.decode()
    assert "write-only-secret" not in page and "(set)" in page


def test_unknown_permissions_are_refused(admin_client):
    response = admin_client.post(
        "/admin/connectors/exchangecredential/add/",
        {
            "exchange": "okx",
            "client_id": "okx-client",
            "client_type": "confidential",
            "allowed_permissions": "read_only\nwithdraw_everything",
            "default_permissions": "trade",
            "authorize_base_url": "https://www.okx.test",
            "api_base_url": "https://www.okx.test",
            "settings": "{}",
        },
    )
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
    response = admin_client.post(
        "/admin/broker_portal/user/add/",
        {
            "email": "hired@alpha.example",
            "first_name": "Ada",
            "last_name": "L",
            "password": "a-long-passphrase",
            "role": "accountant",
        },
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user__email="hired@alpha.example")
    assert membership.tenant == tenant and membership.role == "accountant"
    assert AuditEvent.objects.filter(action="member.created", tenant=tenant).exists()


def test_superuser_sees_every_tenant(two_tenants_of_rows, client_at):
    superuser = User.objects.create_superuser(email="root@platform.example", password="x")
    TOTP.activate(superuser, "JBSWY3DPEHPK3PXPJBSWY3DP")
    client = client_at("alpha.localhost")
    client.force_login(superuser)
    page = client.get("/admin/connectors/exchangecredential/").content.decode()
    for slug in ("alpha", "beta"):
        assert f"/admin/connectors/exchangecredential/{two_tenants_of_rows[slug]['exchangecredential'].pk}/" in page


def test_rsa_key_pair_action_shows_only_the_public_half(admin_client, tenant):
    credential = credential_for(tenant, "kraken")
    admin_client.post(
        "/admin/connectors/exchangecredential/",
        {
            "action": "generate_rsa_key_pair",
            "_selected_action": [credential.pk],
        },
    )
    credential.refresh_from_db()
    page = admin_client.get(f"/admin/connectors/exchangecredential/{credential.pk}/change/").content.decode()
    assert "BEGIN PUBLIC KEY" in page and "PRIVATE KEY" not in page
    assert AuditEvent.objects.filter(action="credential.rsa_key_generated").count() == 1


def test_kraken_issued_secret_pasted_in_the_admin_is_decrypted_and_stored(admin_client, tenant):
    credential = services.credential_generate_rsa_key_pair(credential=credential_for(tenant, "kraken"))
    public_key = serialization.load_pem_public_key(credential.rsa_public_key.encode())
    issued = base64.b64encode(public_key.encrypt(b"issued-by-kraken", padding.PKCS1v15())).decode()
    form = {
        "exchange": "kraken",
        "is_enabled": "on",
        "client_id": credential.client_id,
        "client_type": "confidential",
        "authorize_base_url": "https://id.kraken.test",
        "api_base_url": "https://api.kraken.test",
        "settings": "{}",
    }
    url = f"/admin/connectors/exchangecredential/{credential.pk}/change/"
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
    page = admin_client.get(f"/admin/connectors/exchangecredential/{kraken.pk}/application/").content.decode()
    assert "https://alpha.localhost/connect/kraken/callback/" in page and "account.info:basic" in page
    assert "Still missing: Logo, RSA public key" in page
    services.credential_generate_rsa_key_pair(credential=kraken)
    page = admin_client.get(f"/admin/connectors/exchangecredential/{kraken.pk}/application/").content.decode()
    assert "BEGIN PUBLIC KEY" in page and "Still missing: Logo." in page

    kucoin = credential_for(tenant, "kucoin")
    page = admin_client.get(f"/admin/connectors/exchangecredential/{kucoin.pk}/application/").content.decode()
    assert "IP list for requesting the Fast API service" in page and "IP list for trading" in page

    foreign = credential_for(other_tenant, "okx")
    response = admin_client.get(f"/admin/connectors/exchangecredential/{foreign.pk}/application/")
    assert response.status_code == 302 and response["Location"] == "/admin/"


# Users shared with another tenant, or superusers: the broker admin manages only their membership here.


def user_page_data(user, membership, role, **account):
    """The user change form as the browser posts it, with the one inline membership of this tenant."""
    return {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_active": "on",
        **account,
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "1",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-id": str(membership.pk),
        "memberships-0-user": str(user.pk),
        "memberships-0-role": role,
    }


def account_at(tenant, email, role=Membership.Role.MEMBER, **fields):
    # Without allauth's e-mail address row, whose own admin would refuse a broker admin any user deletion.
    user = User.objects.create_user(email=email, password="correct-horse-battery", **fields)
    Membership.objects.create(tenant=tenant, user=user, role=role)
    return user


@pytest.fixture
def shared_user(tenant, other_tenant):
    """A member here who is a broker admin at another tenant."""
    user = account_at(tenant, "shared@example.com")
    Membership.objects.create(tenant=other_tenant, user=user, role=Membership.Role.BROKER_ADMIN)
    return user


def test_broker_admin_changes_only_the_role_of_a_user_shared_with_another_tenant(admin_client, tenant, shared_user):
    membership = Membership.objects.get(tenant=tenant, user=shared_user)
    url = f"/admin/broker_portal/user/{shared_user.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert 'name="email"' not in page and 'name="is_active"' not in page and 'name="memberships-0-role"' in page
    response = admin_client.post(
        url, user_page_data(shared_user, membership, "accountant", email="taken-over@evil.example", is_active="")
    )
    assert response.status_code == 302
    shared_user.refresh_from_db()
    assert shared_user.email == "shared@example.com" and shared_user.is_active
    membership.refresh_from_db()
    assert membership.role == "accountant"


@pytest.mark.parametrize("who", ["shared", "superuser"])
def test_broker_admin_cannot_delete_a_user_shared_with_another_tenant_or_a_superuser(
    admin_client, tenant, shared_user, who
):
    user = shared_user if who == "shared" else account_at(tenant, "root@platform.example", is_superuser=True)
    delete_url = f"/admin/broker_portal/user/{user.pk}/delete/"
    assert delete_url not in admin_client.get(f"/admin/broker_portal/user/{user.pk}/change/").content.decode()
    assert admin_client.get(delete_url).status_code == 403
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    admin_client.post(
        "/admin/broker_portal/user/", {"action": "delete_selected", "_selected_action": [user.pk], "post": "yes"}
    )
    assert User.objects.filter(pk=user.pk).exists()
    assert Membership.objects.filter(user=user).count() == (2 if who == "shared" else 1)


def test_broker_admin_still_edits_and_deletes_a_user_of_their_tenant_only(admin_client, tenant):
    member = account_at(tenant, "only-here@alpha.example")
    membership = Membership.objects.get(user=member)
    url = f"/admin/broker_portal/user/{member.pk}/change/"
    response = admin_client.post(url, user_page_data(member, membership, "member", email="renamed@alpha.example"))
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.email == "renamed@alpha.example"
    admin_client.post(
        "/admin/broker_portal/user/", {"action": "delete_selected", "_selected_action": [member.pk], "post": "yes"}
    )
    assert not User.objects.filter(pk=member.pk).exists()


def test_role_filter_looks_only_at_roles_at_the_admins_own_tenant(admin_client, shared_user):
    admins_here = admin_client.get("/admin/broker_portal/user/?role=broker_admin")
    assert admins_here.status_code == 200
    assert "boss@alpha.example" in admins_here.content.decode()
    assert "shared@example.com" not in admins_here.content.decode()
    assert "shared@example.com" in admin_client.get("/admin/broker_portal/user/?role=member").content.decode()
    # The model's own lookup across every membership is refused, not answered.
    across = admin_client.get("/admin/broker_portal/user/?memberships__role__exact=broker_admin")
    assert "shared@example.com" not in across.content.decode()


# Rows that only the portal's own flows may remove.


@pytest.fixture
def portal_owned_rows(tenant, member):
    import datetime
    from decimal import Decimal

    from exports.models import ExportJob, HistoryEntry

    connection = ExchangeConnection.objects.create(tenant=tenant, user=member, exchange="kucoin", access_token="t")
    return {
        "connectors/exchangeconnection": connection,
        "exports/historyentry": HistoryEntry.objects.create(
            tenant=tenant,
            connection=connection,
            user=member,
            exchange="kucoin",
            kind="deposit",
            external_id="d1",
            occurred_at=datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC),
            currency="BTC",
            amount=Decimal("1"),
        ),
        "exports/exportjob": ExportJob.objects.create(
            tenant=tenant,
            requested_by=member,
            scope="user",
            scope_user=member,
            kinds=["deposit"],
            format="csv",
            date_from=datetime.date(2025, 1, 1),
            date_to=datetime.date(2025, 1, 31),
        ),
    }


@pytest.mark.parametrize("model", ["connectors/exchangeconnection", "exports/historyentry", "exports/exportjob"])
def test_connections_history_and_export_jobs_are_not_deleted_in_the_admin(admin_client, portal_owned_rows, model):
    row = portal_owned_rows[model]
    assert admin_client.get(f"/admin/{model}/{row.pk}/delete/").status_code == 403
    assert admin_client.post(f"/admin/{model}/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    changelist = admin_client.get(f"/admin/{model}/").content.decode()
    assert 'value="delete_selected"' not in changelist
    admin_client.post(f"/admin/{model}/", {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"})
    assert type(row).objects.filter(pk=row.pk).exists()


# Every membership change in the admin is audited once, with the role it really had before.


def test_role_change_on_the_membership_page_records_the_true_previous_role(admin_client, tenant, member):
    membership = Membership.objects.get(user=member)
    response = admin_client.post(
        f"/admin/broker_portal/membership/{membership.pk}/change/", {"user": member.pk, "role": "accountant"}
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="member.role_changed")
    assert event.details == {"from": "member", "to": "accountant"} and event.target_id == str(membership.pk)
    assert event.tenant == tenant and event.actor.email == "boss@alpha.example"


def test_role_change_on_the_user_page_is_audited_once(admin_client, tenant, member):
    membership = Membership.objects.get(user=member)
    response = admin_client.post(
        f"/admin/broker_portal/user/{member.pk}/change/", user_page_data(member, membership, "broker_admin")
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == "broker_admin"
    event = AuditEvent.objects.get(action="member.role_changed")
    assert event.details == {"from": "member", "to": "broker_admin"} and event.target_id == str(membership.pk)
    # Saving the page again without a change records nothing more.
    admin_client.post(
        f"/admin/broker_portal/user/{member.pk}/change/", user_page_data(member, membership, "broker_admin")
    )
    assert AuditEvent.objects.filter(action="member.role_changed").count() == 1


def test_membership_deletion_in_the_admin_is_audited(admin_client, tenant):
    one, two = (make_member(tenant, f"leaver{n}@alpha.example") for n in (1, 2))
    first, second = (Membership.objects.get(user=user) for user in (one, two))
    assert admin_client.post(f"/admin/broker_portal/membership/{first.pk}/delete/", {"post": "yes"}).status_code == 302
    admin_client.post(
        "/admin/broker_portal/membership/",
        {"action": "delete_selected", "_selected_action": [second.pk], "post": "yes"},
    )
    assert not Membership.objects.filter(pk__in=[first.pk, second.pk]).exists()
    events = AuditEvent.objects.filter(action="member.removed", tenant=tenant).order_by("id")
    assert [(e.target_id, e.details["email"]) for e in events] == [
        (str(first.pk), "leaver1@alpha.example"),
        (str(second.pk), "leaver2@alpha.example"),
    ]


# Whatever the scoped admin adds, changes or deletes is audited, by field name only.


def test_withdrawal_limits_added_changed_and_deleted_in_the_admin_are_audited(admin_client, tenant):
    from withdrawals.models import WithdrawalLimit

    base = "/admin/withdrawals/withdrawallimit"
    assert (
        admin_client.post(f"{base}/add/", {"scope": "tenant", "window_hours": "24", "max_usdt": "1000"}).status_code
        == 302
    )
    limit = WithdrawalLimit.objects.get(tenant=tenant)
    assert (
        admin_client.post(
            f"{base}/{limit.pk}/change/", {"scope": "tenant", "window_hours": "24", "max_usdt": "5000"}
        ).status_code
        == 302
    )
    assert admin_client.post(f"{base}/{limit.pk}/delete/", {"post": "yes"}).status_code == 302
    other = WithdrawalLimit.objects.create(tenant=tenant, scope="per_user", max_usdt=100)
    admin_client.post(f"{base}/", {"action": "delete_selected", "_selected_action": [other.pk], "post": "yes"})
    assert not WithdrawalLimit.objects.exists()
    events = [
        (e.action, e.target_id, e.details)
        for e in AuditEvent.objects.filter(tenant=tenant, action__startswith="withdrawallimit.").order_by("id")
    ]
    assert events == [
        ("withdrawallimit.created", str(limit.pk), {"changed": ["max_usdt", "scope"]}),  # the window kept its default
        ("withdrawallimit.updated", str(limit.pk), {"changed": ["max_usdt"]}),
        ("withdrawallimit.deleted", str(limit.pk), {}),
        ("withdrawallimit.deleted", str(other.pk), {}),
    ]
    assert "5000" not in str(events)


def test_tenant_branding_change_is_audited_by_field_name(admin_client, tenant):
    response = admin_client.post(
        f"/admin/broker_portal/tenant/{tenant.pk}/change/",
        {
            "name": tenant.name,
            "primary_color": tenant.primary_color,
            "accent_color": tenant.accent_color,
            "support_email": "help@phish.example",
            "reference_currency": tenant.reference_currency,
        },
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="tenant.updated")
    assert event.tenant == tenant and event.details == {"changed": ["support_email"]}
    assert "phish" not in str(event.details)


def test_credential_change_is_audited_once_and_its_deletion_too(admin_client, tenant):
    credential = credential_for(tenant, "okx")
    response = admin_client.post(
        f"/admin/connectors/exchangecredential/{credential.pk}/change/",
        {
            "exchange": "okx",
            "is_enabled": "on",
            "client_id": "renamed-client",
            "client_type": "confidential",
            "authorize_base_url": "https://auth.test",
            "api_base_url": "https://api.test",
            "settings": "{}",
        },
    )
    assert response.status_code == 302
    assert list(AuditEvent.objects.values_list("action", flat=True).filter(action__startswith="credential.")) == [
        "credential.updated"
    ]
    assert (
        admin_client.post(f"/admin/connectors/exchangecredential/{credential.pk}/delete/", {"post": "yes"}).status_code
        == 302
    )
    event = AuditEvent.objects.get(action="credential.deleted")
    assert event.tenant == tenant and event.target_id == str(credential.pk)


def test_inline_rows_saved_by_a_superuser_are_audited_too(tenant, client_at):
    superuser = User.objects.create_superuser(email="root@platform.example", password="x")
    TOTP.activate(superuser, "JBSWY3DPEHPK3PXPJBSWY3DP")
    client = client_at("alpha.localhost")
    client.force_login(superuser)
    host = tenant.hosts.get()
    response = client.post(
        f"/admin/broker_portal/tenant/{tenant.pk}/change/",
        {
            "name": tenant.name,
            "slug": tenant.slug,
            "primary_color": tenant.primary_color,
            "accent_color": tenant.accent_color,
            "support_email": "",
            "reference_currency": tenant.reference_currency,
            "hosts-TOTAL_FORMS": "2",
            "hosts-INITIAL_FORMS": "1",
            "hosts-MIN_NUM_FORMS": "0",
            "hosts-MAX_NUM_FORMS": "1000",
            "hosts-0-id": str(host.pk),
            "hosts-0-tenant": str(tenant.pk),
            "hosts-0-host": host.host,
            "hosts-0-DELETE": "on",
            "hosts-1-tenant": str(tenant.pk),
            "hosts-1-host": "portal.alpha.example",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(tenant.hosts.values_list("host", flat=True)) == ["portal.alpha.example"]
    events = AuditEvent.objects.filter(tenant=tenant, action__startswith="tenanthost.").order_by("id")
    assert [(e.action, e.target_repr) for e in events] == [
        ("tenanthost.deleted", "alpha.localhost"),
        ("tenanthost.created", "portal.alpha.example"),
    ]
    assert not AuditEvent.objects.filter(action="tenant.updated").exists()  # the tenant's own fields kept


# What must be unique per tenant is refused with a form error, not met by the database.

CREDENTIAL_FORM = {
    "exchange": "kucoin",
    "is_enabled": "on",
    "client_id": "second-client",
    "client_type": "confidential",
    "authorize_base_url": "https://auth.test",
    "api_base_url": "https://api.test",
    "settings": "{}",
}


def test_a_second_credential_for_the_same_exchange_is_a_form_error(admin_client, tenant, other_tenant):
    credential_for(other_tenant)  # another tenant's credential for the same exchange is no obstacle
    assert (
        admin_client.post(
            "/admin/connectors/exchangecredential/add/", {**CREDENTIAL_FORM, "client_id": "first-client"}
        ).status_code
        == 302
    )
    response = admin_client.post("/admin/connectors/exchangecredential/add/", CREDENTIAL_FORM)
    assert response.status_code == 200
    assert "with this Tenant and Exchange already exists" in response.content.decode()
    assert list(ExchangeCredential.objects.filter(tenant=tenant).values_list("client_id", flat=True)) == [
        "first-client"
    ]
    # Changing another row to the exchange of an existing one is refused the same way.
    okx = credential_for(tenant, "okx")
    response = admin_client.post(f"/admin/connectors/exchangecredential/{okx.pk}/change/", CREDENTIAL_FORM)
    assert response.status_code == 200 and "already exists" in response.content.decode()
    okx.refresh_from_db()
    assert okx.exchange == "okx"


def test_a_second_withdrawal_limit_for_the_same_window_is_a_form_error(admin_client, tenant, other_tenant):
    from withdrawals.models import WithdrawalLimit

    WithdrawalLimit.objects.create(tenant=other_tenant, scope="tenant", window_hours=24, max_usdt=5)
    base = "/admin/withdrawals/withdrawallimit"
    limit = {"scope": "tenant", "window_hours": "24", "max_usdt": "1000"}
    assert admin_client.post(f"{base}/add/", limit).status_code == 302
    response = admin_client.post(f"{base}/add/", {**limit, "max_usdt": "2000"})
    assert response.status_code == 200 and "already exists" in response.content.decode()
    assert list(WithdrawalLimit.objects.filter(tenant=tenant).values_list("max_usdt", flat=True)) == [1000]
    # Another window is another limit.
    assert admin_client.post(f"{base}/add/", {**limit, "window_hours": "168"}).status_code == 302


# A broker admin filters users only by what the page offers.


@pytest.mark.parametrize(
    "query",
    [
        "is_superuser=1",
        "is_superuser__exact=1",
        "is_staff=1",
        "password__startswith=md5",
        "last_login__isnull=False",
        "memberships__role__exact=broker_admin",
    ],
)
def test_broker_admin_cannot_filter_users_by_fields_the_page_does_not_offer(admin_client, tenant, query):
    account_at(tenant, "root@platform.example", is_superuser=True, is_staff=True)
    response = admin_client.get(f"/admin/broker_portal/user/?{query}")
    assert response.status_code == 400
    assert "root@platform.example" not in response.content.decode()


@pytest.mark.parametrize("query", ["is_active__exact=1", "role=member", "q=root", "o=1", "p=1"])
def test_the_filters_and_search_the_user_page_offers_still_work(admin_client, tenant, query):
    account_at(tenant, "root@platform.example", is_superuser=True)
    response = admin_client.get(f"/admin/broker_portal/user/?{query}")
    assert response.status_code == 200 and "root@platform.example" in response.content.decode()


def test_a_superuser_may_still_filter_users_by_any_field(tenant, client_at):
    superuser = User.objects.create_superuser(email="root@platform.example", password="x")
    TOTP.activate(superuser, "JBSWY3DPEHPK3PXPJBSWY3DP")
    client = client_at("alpha.localhost")
    client.force_login(superuser)
    response = client.get("/admin/broker_portal/user/?is_superuser__exact=1")
    assert response.status_code == 200 and "root@platform.example" in response.content.decode()


def test_a_save_the_database_refuses_is_a_form_error_that_keeps_the_input(admin_client, tenant, monkeypatch):
    """As when another request saved the same limit between this form's checks and its save."""
    from withdrawals.models import WithdrawalLimit

    base = "/admin/withdrawals/withdrawallimit"
    limit = {"scope": "tenant", "window_hours": "24", "max_usdt": "1000"}
    assert admin_client.post(f"{base}/add/", limit).status_code == 302
    monkeypatch.setattr(WithdrawalLimit, "validate_constraints", lambda self, exclude=None: None)
    events = AuditEvent.objects.count()
    response = admin_client.post(f"{base}/add/", {**limit, "max_usdt": "2345"})
    page = response.content.decode()
    assert response.status_code == 200 and "Not saved:" in page and 'value="2345"' in page
    assert WithdrawalLimit.objects.filter(tenant=tenant).count() == 1 and AuditEvent.objects.count() == events


# What each exchange's credential page shows, and what it leaves out.
FIELDS_BY_EXCHANGE = [
    (
        "kucoin",
        ["new_broker_key", "service_ip_list", "trading_ip_list", "kucoin_partner"],
        ["issued_encrypted_client_secret", "okx_", "RSA key"],
    ),
    (
        "kraken",
        ["issued_encrypted_client_secret", "RSA key"],
        ["new_broker_key", "service_ip_list", "trading_ip_list", "kucoin_partner"],
    ),
    ("okx", ["service_ip_list"], ["new_broker_key", "trading_ip_list", "issued_encrypted_client_secret"]),
]


@pytest.mark.parametrize("exchange, shown, hidden", FIELDS_BY_EXCHANGE)
def test_a_credential_page_shows_only_the_fields_its_exchange_uses(admin_client, tenant, exchange, shown, hidden):
    credential = credential_for(tenant, exchange)
    page = admin_client.get(f"/admin/connectors/exchangecredential/{credential.pk}/change/").content.decode()
    assert all(name in page for name in shown), [name for name in shown if name not in page]
    assert not [name for name in hidden if name in page]
    assert "Only for what the fields above do not cover" in page  # the raw JSON, folded away


@pytest.mark.parametrize("exchange, shown, hidden", FIELDS_BY_EXCHANGE)
def test_the_add_page_asks_only_for_the_chosen_exchanges_fields(admin_client, exchange, shown, hidden):
    page = admin_client.get(f"/admin/connectors/exchangecredential/add/?exchange={exchange}").content.decode()
    assert all(name in page for name in shown), [name for name in shown if name not in page]
    assert not [name for name in hidden if name in page]
    assert "Choose another exchange" in page
    others = [other for other, _, _ in FIELDS_BY_EXCHANGE if other != exchange]
    assert not [other for other in others if f'<option value="{other}"' in page]  # the exchange stays the chosen one


@pytest.mark.parametrize("query", ["", "?exchange=nowhere"])
def test_adding_a_credential_without_a_known_exchange_offers_the_exchanges(admin_client, query):
    response = admin_client.get(f"/admin/connectors/exchangecredential/add/{query}")
    page = response.content.decode()
    assert response.status_code == 200 and 'name="client_id"' not in page
    assert all(f'href="?exchange={exchange}"' in page for exchange, _, _ in FIELDS_BY_EXCHANGE)
    assert ("knows no exchange “nowhere”" in page) == bool(query)


def test_a_credential_added_through_the_chosen_exchanges_form_is_saved(admin_client, tenant):
    url = "/admin/connectors/exchangecredential/add/?exchange=kucoin"
    page = admin_client.get(url).content.decode()
    assert 'name="okx_' not in page and 'name="kucoin_partner"' in page
    data = {
        "exchange": "kucoin",
        "is_enabled": "on",
        "client_id": "kucoin-client",
        "client_type": "confidential",
        "new_client_secret": "write-only-secret",
        "redirect_uris": "http://alpha.localhost/connect/kucoin/callback/",
        "authorize_base_url": "https://www.kucoin.com",
        "api_base_url": "https://api.kucoin.com",
        "settings": "{}",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    credential = ExchangeCredential.objects.get(client_id="kucoin-client")
    assert credential.tenant == tenant and credential.exchange == "kucoin"
    assert credential.client_secret == "write-only-secret"
