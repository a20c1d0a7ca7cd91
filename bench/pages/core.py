"""Seeding a broker's tenant at real scale, and measuring every staff page and API list against it.

Each table is filled by cloning one row the ORM made (so encryption, defaults and constraints are the models'
own) with ``INSERT … SELECT … FROM generate_series``: PostgreSQL writes the rows itself, a million in seconds.
A tenant is seeded once per scale and kept (its slug names its size), so later runs only measure."""

import base64
import statistics
import time
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlencode

from django.core.cache import cache
from django.db import connection
from django.db.models import Model
from django.test import Client
from django.test.utils import CaptureQueriesContext

BIG = {"users": 10_000, "connections": 50_000, "withdrawals": 100_000, "history": 1_000_000, "audit": 1_000_000}
SMALL = {"users": 10, "connections": 20, "withdrawals": 40, "history": 200, "audit": 200}
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DP"

# Measured with its cached health counts dropped before every request: the view that counts (once a minute).
COUNTING = "admin exchangeconnection, counting"

ADMIN_PAGES = [
    "broker_portal/user",
    "broker_portal/membership",
    "broker_portal/auditevent",
    "connectors/exchangeconnection",
    "withdrawals/withdrawal",
    "exports/historyentry",
    "exports/exportjob",
    "connectors/exchangecredential",
    "withdrawals/withdrawallimit",
]


def scaled(sizes: dict, scale: float) -> dict:
    return {name: max(1, int(count * scale)) for name, count in sizes.items()}


def clone(model: type[Model], template_pk: int, count: int, overrides: dict[str, str]) -> None:
    """``count`` copies of one row, column by column, with SQL expressions of ``g`` (1..count) where given."""
    table = model._meta.db_table
    columns = [field.column for field in model._meta.concrete_fields if field.column != "id"]
    quote = connection.ops.quote_name
    # The expressions' own % (modulo) doubled: the statement takes parameters.
    values = [
        overrides[column].replace("%", "%%") if column in overrides else f"t.{quote(column)}" for column in columns
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(table)} ({', '.join(map(quote, columns))}) "
            f"SELECT {', '.join(values)} FROM {quote(table)} t, generate_series(1, %s) g "
            f"WHERE t.id = %s",
            [count, template_pk],
        )


def seed_tenant(slug: str, sizes: dict):
    """A tenant of ``sizes`` rows; its broker admin (TOTP set up) and API token key. Kept once seeded."""
    from allauth.mfa.totp.internal.auth import TOTP

    from api.tokens import api_token_create
    from broker_portal import services
    from broker_portal.audit import record_audit_event
    from broker_portal.models import AuditEvent, Membership, Tenant, User
    from connectors.models import ExchangeConnection
    from exports.models import HistoryEntry
    from withdrawals.models import Withdrawal

    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is not None:
        admin = User.objects.get(email=f"admin@{slug}.bench")
        return tenant, admin, api_token_create(tenant=tenant, user=admin, name="bench")[1]
    tenant = services.tenant_create(name=slug, slug=slug, hosts=[f"{slug}.localhost"])
    admin = services.member_create(
        tenant=tenant,
        email=f"admin@{slug}.bench",
        password=None,
        role=Membership.Role.BROKER_ADMIN,
        email_verified=True,
    )
    TOTP.activate(admin, TOTP_SECRET)
    user = User.objects.create_user(email=f"u0@{slug}.bench", password=None)
    Membership.objects.create(tenant=tenant, user=user, role=Membership.Role.MEMBER)
    users = sizes["users"] - 1
    clone(User, user.pk, users, {"email": f"'u' || g || '@{slug}.bench'"})
    with connection.cursor() as cursor:  # one membership for each new user, in user order
        cursor.execute(
            "INSERT INTO broker_portal_membership (tenant_id, user_id, role, created_at) "
            "SELECT %s, id, 'member', now() FROM broker_portal_user WHERE email LIKE %s AND id > %s",
            [tenant.pk, f"u%@{slug}.bench", user.pk],
        )
        cursor.execute(
            "SELECT min(user_id) FROM broker_portal_membership WHERE tenant_id = %s AND role = 'member'", [tenant.pk]
        )
        first_user = cursor.fetchone()[0]
    exchanges = "(ARRAY['kucoin','okx','kraken','peatio'])[1 + g % 4]"
    user_of = f"({first_user} + (g - 1) % {sizes['users']})"  # the n-th connection's user, round the tenant
    connection_row = ExchangeConnection.objects.create(
        tenant=tenant, user=user, exchange="kucoin", access_token="bench-access", refresh_token="bench-refresh"
    )
    clone(
        ExchangeConnection,
        connection_row.pk,
        sizes["connections"] - 1,
        {
            "user_id": user_of,
            "exchange": exchanges,
            "exchange_account_id": "'acct-' || g",
            "created_at": "now() - g * interval '1 minute'",
        },
    )
    connection_of = f"({connection_row.pk} + (g - 1) % {sizes['connections']})"  # the clones follow it
    owner = f"(SELECT user_id FROM connectors_exchangeconnection WHERE id = {connection_of})"
    withdrawal = Withdrawal.objects.create(
        tenant=tenant,
        user=user,
        connection=connection_row,
        exchange="kucoin",
        currency="BTC",
        destination="bc1qbench",
        amount=Decimal("0.01"),
    )
    clone(
        Withdrawal,
        withdrawal.pk,
        sizes["withdrawals"] - 1,
        {
            "connection_id": connection_of,
            "user_id": owner,
            "idempotency_key": "gen_random_uuid()",
            "created_at": "now() - g * interval '1 second'",
        },
    )
    entry = HistoryEntry.objects.create(
        tenant=tenant,
        connection=connection_row,
        user=user,
        exchange="kucoin",
        kind="deposit",
        external_id="d0",
        occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
        currency="BTC",
        amount=Decimal("0.5"),
    )
    clone(
        HistoryEntry,
        entry.pk,
        sizes["history"] - 1,
        {
            "connection_id": connection_of,
            "user_id": owner,
            "external_id": "'d' || g",
            "occurred_at": "timestamptz '2025-01-01' + g * interval '20 seconds'",
        },
    )
    event = record_audit_event(tenant=tenant, action="bench.row", actor=admin)
    clone(
        AuditEvent,
        event.pk,
        sizes["audit"] - 1,
        {
            "action": "(ARRAY['member.created','connection.created','withdrawal.submitted','export.requested'])"
            "[1 + g % 4]",
            "created_at": "now() - g * interval '1 second'",
        },
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return tenant, admin, api_token_create(tenant=tenant, user=admin, name="bench")[1]


def deep_cursor(tenant) -> str:
    """An audit-events cursor 90 % of the way down the tenant's list, as a client walking it would hold."""
    from broker_portal.models import AuditEvent

    events = AuditEvent.objects.filter(tenant=tenant).order_by("-created_at", "-id")
    count = events.count()
    position = events.values_list("created_at", flat=True)[int(count * 0.9)]
    return base64.b64encode(urlencode({"p": str(position)}).encode()).decode()


def pages(tenant) -> dict[str, str]:
    """Every staff page and API list measured, by name: path."""
    named = {f"admin {page.split('/')[1]}": f"/admin/{page}/" for page in ADMIN_PAGES}
    named.update(
        {
            COUNTING: "/admin/connectors/exchangeconnection/",
            "admin index": "/admin/",
            "exports page": "/exports/",
            "exports page 100": "/exports/?page=100",
            "exports search": "/exports/?q=u42",
            "picker users": "/exports/pick/users?q=u42",
            "picker connections": "/exports/pick/connections?q=u42",
            "api connections": "/api/v1/connections/",
            "api audit-events": "/api/v1/audit-events/",
            "api audit-events deep": f"/api/v1/audit-events/?cursor={deep_cursor(tenant)}",
            "api withdrawals": "/api/v1/withdrawals/",
            "api history-sync": "/api/v1/history-sync/",
            "api exports": "/api/v1/exports/",
        }
    )
    return named


def measure_tenant(tenant, admin, token: str, *, repeat: int) -> dict[str, dict]:
    """Per page: its queries and its median server time (in process, as the WSGI handler runs it)."""
    from connectors.selectors import health_counts_key

    host = tenant.hosts.first().host
    browser, api = Client(HTTP_HOST=host), Client(HTTP_HOST=host, HTTP_AUTHORIZATION=f"Bearer {token}")
    browser.force_login(admin)
    figures = {}
    for name, path in pages(tenant).items():
        client = api if path.startswith("/api/") else browser
        client.get(path)  # warm: the first request may write the session or the token's last use
        times, db_times, queries = [], [], None
        for _ in range(repeat):
            if name == COUNTING:
                cache.delete(health_counts_key(tenant.pk))
            with CaptureQueriesContext(connection) as captured:
                start = time.perf_counter()
                response = client.get(path)
                times.append(time.perf_counter() - start)
            assert response.status_code == 200, (path, response.status_code)
            queries = len(captured)
            db_times.append(sum(float(query["time"]) for query in captured.captured_queries))
        figures[name] = {
            "queries": queries,
            "ms": round(statistics.median(times) * 1000, 1),
            "db_ms": round(statistics.median(db_times) * 1000, 1),
            "bytes": len(response.content),
        }
    return figures


def small_after_big(small, big, *, repeat: int) -> dict:
    """The small tenant's audit changelist on its own, then after the big tenant's ran on the same session
    (prepared statements: a generic plan made there would serve the small tenant too)."""

    def timed(tenant, admin, times):
        client = Client(HTTP_HOST=tenant.hosts.first().host)
        client.force_login(admin)
        results = []
        for _ in range(times):
            start = time.perf_counter()
            assert client.get("/admin/broker_portal/auditevent/").status_code == 200
            results.append(time.perf_counter() - start)
        return round(statistics.median(results) * 1000, 1)

    alone = timed(*small, repeat)
    timed(*big, 12)  # past psycopg's prepare threshold and PostgreSQL's five custom plans
    return {"small_alone_ms": alone, "small_after_big_ms": timed(*small, repeat)}


def run(*, scale: float = 1.0, repeat: int = 5, plans_only: bool = False) -> dict:
    big_sizes, small_sizes = scaled(BIG, scale), scaled(SMALL, min(1.0, scale * 1000))
    big = seed_tenant(f"bench-big-{big_sizes['users']}", big_sizes)
    small = seed_tenant(f"bench-small-{small_sizes['users']}", small_sizes)
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        mode = cursor.fetchone()[0]
    result = {"scale": scale, "sizes": {"big": big_sizes, "small": small_sizes}, "plan_cache_mode": mode}
    if not plans_only:
        result.update(big=measure_tenant(*big, repeat=repeat), small=measure_tenant(*small, repeat=repeat))
    result["plans"] = small_after_big(small[:2], big[:2], repeat=repeat)
    return result
