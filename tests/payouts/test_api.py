"""The broker's back-end makes and follows payout batches through /api/v1/payouts/: the admin's services, with
the tenant's walls, the references' idempotency and an Idempotency-Key."""

import csv
import io
from decimal import Decimal

import jsonschema
import pytest
import requests
from allauth.mfa.totp.internal.auth import TOTP
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from api.tokens import api_token_create
from broker_portal.models import Membership
from payouts.models import Payout
from tests.helpers import make_member

from .helpers import TRC20, credit_deposit

pytestmark = pytest.mark.django_db(transaction=True)
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DP"


def token_session(portal, email, role):
    user = make_member(portal["tenant"], email, role)
    TOTP.activate(user, TOTP_SECRET)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {api_token_create(tenant=portal['tenant'], user=user, name='t')[1]}"
    session.url = lambda path: f"{portal['url']}/api/v1{path}"
    return session


@pytest.fixture
def back_end(portal):
    return token_session(portal, "backend@live.example", Membership.Role.BROKER_ADMIN)


def body(payees, name="Rewards", amounts=("1.5", "2", "3.000000000000000001")):
    return {
        "name": name,
        "payouts": [
            {
                "connection": connection.pk,
                "asset": "USDT",
                "network": TRC20[exchange_id],
                "amount": amount,
                "reference": f"{name}-{exchange_id}",
            }
            for (exchange_id, connection), amount in zip(payees.items(), amounts, strict=False)
        ],
    }


def test_the_back_end_creates_resolves_records_and_sees_a_batch_received(portal, payees, back_end):
    created = back_end.post(back_end.url("/payouts/batches/"), json=body(payees))
    assert created.status_code == 201, created.text
    batch = created.json()
    assert [p["status"] for p in batch["payouts"]] == ["pending"] * 3
    assert batch["payouts"][2]["amount"] == "3.000000000000000001"
    again = back_end.post(back_end.url("/payouts/batches/"), json=body(payees))
    assert (again.status_code, again.json()["id"]) == (200, batch["id"])
    resolved = back_end.post(back_end.url(f"/payouts/batches/{batch['id']}/resolve/")).json()
    assert {p["status"] for p in resolved["payouts"]} == {"resolved"}
    for payout in resolved["payouts"]:
        sent = credit_deposit(portal["url"], payout["exchange"], payout["address"], payout["amount"])
        recorded = back_end.post(back_end.url(f"/payouts/{payout['id']}/sent/"), json={"txid": sent["txid"]})
        assert (recorded.status_code, recorded.json()["status"], recorded.json()["txid"]) == (200, "sent", sent["txid"])
    from payouts import services, tasks

    for connection_id in services.connections_with_open_payouts():  # what the beat's task enqueues, run here
        tasks.confirm_connection_payouts.apply(args=[connection_id])
    detail = back_end.get(back_end.url(f"/payouts/batches/{batch['id']}/")).json()
    assert {p["status"] for p in detail["payouts"]} == {"received"} and all(p["deposit"] for p in detail["payouts"])
    # The accountant's file: one row per payout with its transaction and when it arrived.
    accountant = token_session(portal, "books@live.example", Membership.Role.ACCOUNTANT)
    exported = accountant.get(accountant.url("/payouts/export/"))
    assert exported.status_code == 200 and exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(row["Reference"], row["Amount"], row["Status"]) for row in rows] == [
        ("Rewards-kucoin", "1.5", "received"),
        ("Rewards-okx", "2", "received"),
        ("Rewards-kraken", "3.000000000000000001", "received"),
    ]
    assert all(row["TxHash"] and row["Received At (UTC)"] for row in rows)
    # The accountant reads; only the broker admin makes payouts.
    assert accountant.post(accountant.url("/payouts/batches/"), json=body(payees, "Other")).status_code == 403


def conforms(response, schema, method, path):
    """The 422 body is one the operation's OpenAPI document lists (its code among the documented ones)."""
    documented = schema["paths"][path][method]["responses"]["422"]["content"]["application/json"]["schema"]
    jsonschema.validate(response.json(), documented)
    return response.json()["error"]["code"]


def test_refusals_read_clearly_and_nothing_is_made(portal, payees, back_end):
    invalid = back_end.post(back_end.url("/payouts/batches/"), json={"name": "X", "payouts": []})
    assert invalid.status_code == 400 and invalid.json()["error"]["code"] == "invalid"
    first = back_end.post(back_end.url("/payouts/batches/"), json=body(payees))
    changed = back_end.post(back_end.url("/payouts/batches/"), json=body(payees, amounts=("9", "2", "3")))
    assert changed.status_code == 422 and changed.json()["error"]["code"] == "reference_used"
    schema = back_end.get(f"{portal['url']}/api/schema/?format=json").json()
    assert conforms(changed, schema, "post", "/api/v1/payouts/batches/") == "reference_used"
    with pytest.raises(jsonschema.ValidationError):  # a code the operation does not document would not conform
        jsonschema.validate(
            {"error": {"code": "not_resolved", "message": "x"}},
            schema["paths"]["/api/v1/payouts/batches/"]["post"]["responses"]["422"]["content"]["application/json"][
                "schema"
            ],
        )
    mismatch = back_end.post(
        back_end.url("/payouts/batches/"),
        json={
            "name": "M",
            "payouts": [
                {"connection": payees["kucoin"].pk, "asset": "USDT", "network": "bsc", "amount": "1", "reference": "m"}
            ],
        },
    )
    resolved = back_end.post(back_end.url(f"/payouts/batches/{mismatch.json()['id']}/resolve/")).json()
    assert resolved["payouts"][0]["status"] == "refused"
    assert resolved["payouts"][0]["error"].startswith("Network mismatch")
    not_resolved = back_end.post(back_end.url(f"/payouts/{resolved['payouts'][0]['id']}/sent/"), json={"txid": "0x1"})
    assert (not_resolved.status_code, not_resolved.json()["error"]["code"]) == (422, "not_resolved")
    assert conforms(not_resolved, schema, "post", "/api/v1/payouts/{id}/sent/") == "not_resolved"
    assert Payout.objects.count() == 4 and first.status_code == 201


def test_an_idempotency_key_replays_the_answer_and_refuses_another_body(portal, payees, back_end):
    headers = {"Idempotency-Key": "batch-2026-12-01"}
    first = back_end.post(back_end.url("/payouts/batches/"), json=body(payees), headers=headers)
    replay = back_end.post(back_end.url("/payouts/batches/"), json=body(payees), headers=headers)
    assert first.status_code == replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    other = back_end.post(back_end.url("/payouts/batches/"), json=body(payees, "Other"), headers=headers)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    schema = back_end.get(f"{portal['url']}/api/schema/?format=json").json()
    assert conforms(other, schema, "post", "/api/v1/payouts/batches/") == "idempotency_key_reused"


def test_another_tenants_batches_and_payouts_are_not_found_and_members_are_refused(
    portal, payees, back_end, other_tenant
):
    batch = back_end.post(back_end.url("/payouts/batches/"), json=body(payees)).json()
    foreign_admin = make_member(other_tenant, "boss@beta.example", Membership.Role.BROKER_ADMIN)
    TOTP.activate(foreign_admin, TOTP_SECRET)
    client = APIClient(HTTP_HOST="beta.localhost")
    foreign_key = api_token_create(tenant=other_tenant, user=foreign_admin, name="x")[1]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {foreign_key}")
    payout_id = batch["payouts"][0]["id"]
    for path in [f"/api/v1/payouts/batches/{batch['id']}/", f"/api/v1/payouts/{payout_id}/"]:
        assert client.get(path).status_code == 404
    for path in [f"/api/v1/payouts/batches/{batch['id']}/resolve/", f"/api/v1/payouts/{payout_id}/sent/"]:
        assert client.post(path, {"txid": "0x"}, format="json").status_code == 404
    assert client.get("/api/v1/payouts/batches/").json()["results"] == []
    # A foreign connection cannot be paid from here.
    foreign_body = {
        "name": "F",
        "payouts": [{"connection": payees["okx"].pk, "asset": "USDT", "network": "x", "amount": "1", "reference": "f"}],
    }
    assert client.post("/api/v1/payouts/batches/", foreign_body, format="json").status_code == 422
    member = requests.Session()
    member.headers["Authorization"] = (
        f"Bearer {api_token_create(tenant=portal['tenant'], user=payees['okx'].user, name='m')[1]}"
    )
    assert member.get(f"{portal['url']}/api/v1/payouts/batches/").status_code == 403
    assert Payout.objects.get(pk=payout_id).amount == Decimal("1.5")


def test_the_batch_list_takes_the_same_queries_whatever_its_rows(portal, payees, back_end):
    admin = make_member(portal["tenant"], "lister@live.example", Membership.Role.BROKER_ADMIN)
    TOTP.activate(admin, TOTP_SECRET)
    client = APIClient(HTTP_HOST="localhost")
    lister_key = api_token_create(tenant=portal["tenant"], user=admin, name="l")[1]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {lister_key}")

    def queries():
        with CaptureQueriesContext(db_connection) as captured:
            assert client.get("/api/v1/payouts/batches/").status_code == 200
        return [query["sql"] for query in captured]

    back_end.post(back_end.url("/payouts/batches/"), json=body(payees, "One"))
    queries()  # the token's first use is written once
    one = queries()
    for name in ("Two", "Three", "Four"):
        back_end.post(back_end.url("/payouts/batches/"), json=body(payees, name))
    more = queries()
    assert len(more) == len(one), "\n".join(more)


def test_the_accountant_downloads_the_payouts_from_the_exports_page_and_members_cannot(
    portal, payees, back_end, client_at
):
    import pyotp

    from broker_portal.models import AuditEvent

    back_end.post(back_end.url("/payouts/batches/"), json=body(payees))
    accountant = make_member(portal["tenant"], "ledger@live.example", Membership.Role.ACCOUNTANT)
    TOTP.activate(accountant, pyotp.random_base32())
    client = client_at("localhost")
    client.force_login(accountant)
    assert 'id="payouts-export"' in client.get("/exports/").content.decode()
    download = client.get("/payouts/export.csv")
    assert download.status_code == 200 and download["Cache-Control"] == "private, no-store"
    assert download.content.decode().startswith("Batch,Reference,User,Exchange,Asset,Network,Amount,Address,")
    assert download.content.decode().count("\n") == 4
    assert AuditEvent.objects.get(action="payouts.exported").details["payouts"] == 3
    member = client_at("localhost")
    member.force_login(payees["okx"].user)
    assert member.get("/payouts/export.csv").status_code == 404
