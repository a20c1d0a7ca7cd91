"""Every operation documents the one error body it can answer with, and how callers authenticate."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

ERROR_STATUSES = {
    "400": "The request is not valid.",
    "401": "No valid session or API token.",
    "403": "Not allowed for this user.",
    "404": "No such object here (missing and foreign look the same).",
    "422": "A rule of the portal refused the request.",
    "429": "Too many requests; see Retry-After.",
}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": True},
            },
        }
    },
}


# (method, path) -> the codes of the 422 bodies the operation answers with, each with what it means: its 422 is
# documented with these codes only (an enum), so a body with any other code does not conform to the schema.
REFUSALS = {
    ("post", "/api/v1/payouts/batches/"): {
        "invalid": "A payout or the batch is not valid (`fields` names which, by the payout's index).",
        "reference_used": "A reference was used for another payout already.",
        "in_progress": "Another request is creating payouts with these references; ask again in a moment.",
        "idempotency_key_reused": "This Idempotency-Key was used with another request.",
    },
    ("post", "/api/v1/payouts/{id}/sent/"): {
        "invalid": "Not a transaction id (`fields.txid`).",
        "not_resolved": "The payout's deposit address is not resolved yet (or was refused).",
        "already_received": "The payout was received already.",
    },
}


def refusal_response(codes: dict[str, str]) -> dict:
    """A 422 whose body is the one error body with ``code`` one of ``codes``, an example of each."""
    error = ERROR_SCHEMA["properties"]["error"]
    schema = {
        **ERROR_SCHEMA,
        "properties": {
            "error": {**error, "properties": {**error["properties"], "code": {"type": "string", "enum": sorted(codes)}}}
        },
    }
    meanings = "; ".join(f"`{code}` ({meaning.rstrip('.')})" for code, meaning in codes.items())
    return {
        "description": f"{ERROR_STATUSES['422']} Its code: {meanings}.",
        "content": {
            "application/json": {
                "schema": schema,
                "examples": {
                    code: {"value": {"error": {"code": code, "message": meaning}}} for code, meaning in codes.items()
                },
            }
        },
    }


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"$ref": "#/components/schemas/Error"}
    for path_name, path in result.get("paths", {}).items():
        for method, operation in path.items():
            responses = operation.setdefault("responses", {})
            if (method, path_name) in REFUSALS:
                responses["422"] = refusal_response(REFUSALS[(method, path_name)])
            for status, description in ERROR_STATUSES.items():
                responses.setdefault(
                    status, {"description": description, "content": {"application/json": {"schema": reference}}}
                )
    return result


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Documents ``Authorization: Bearer bp_…`` beside the browser session."""

    target_class = "api.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "bp_<prefix>_<secret>"}


API_DESCRIPTION = """Everything a person can do in the portal, for a broker's own systems.

## Authentication

Every request acts as one user at one broker (the host it is sent to). Send an API token made on the portal's
*API tokens* page as a bearer token:

    curl -H "Authorization: Bearer bp_1a2b3c4d_…" https://broker.example/api/v1/connections/

A browser already signed in to the portal may call the API with its session instead (with the CSRF token on
POSTs). Admins and accountants use the API only once they have set up two-factor authentication. A token may
expire; a revoked, expired or other broker's token answers 401.

## Lists

`audit-events`, `withdrawals` and `history-sync` are paged by cursor: follow `next` until it is null (`limit`
sets the page size, at most 500). The other lists take `limit` and `offset`.

## Errors

Every error has the same body: `{"error": {"code": "…", "message": "…", "fields": {…}}}`.

## Retries

POSTs that move money or start work take an `Idempotency-Key` header: the same key and body replay the first
answer, so a retry after a timeout does not withdraw twice."""

B = 'curl -H "Authorization: Bearer $TOKEN" https://broker.example/api/v1'
J = '-H "Content-Type: application/json"'
# An order ticket as the examples send it.
ORDER_BODY = '{"base": "BTC", "quote": "USDT", "side": "buy", "type": "limit", "size": "0.01", "price": "60000"}'

# (method, path) -> summary and an example request, shown on each operation in the docs.
OPERATIONS = {
    ("get", "/api/v1/connections/"): ("Your exchange connections", f"{B}/connections/?exchange=kucoin"),
    ("get", "/api/v1/connections/{id}/"): ("One of your connections", f"{B}/connections/12/"),
    ("get", "/api/v1/connections/{id}/balances/"): ("Balances at the exchange", f"{B}/connections/12/balances/"),
    ("get", "/api/v1/connections/{id}/deposit-address/"): (
        "The deposit address for an asset and network",
        f"{B}/connections/12/deposit-address/?asset=USDT&network=trx",
    ),
    ("post", "/api/v1/connections/{id}/deposit-address/"): (
        "Create a deposit address",
        f'{B}/connections/12/deposit-address/ {J} -d \'{{"asset": "USDT", "network": "trx"}}\'',
    ),
    ("get", "/api/v1/connections/{id}/deposit-networks/"): (
        "Networks an asset can be deposited on",
        f"{B}/connections/12/deposit-networks/?asset=USDT",
    ),
    ("post", "/api/v1/connections/{id}/disconnect/"): (
        "Disconnect (revokes the key at the exchange first)",
        f"{B}/connections/12/disconnect/ -X POST",
    ),
    ("post", "/api/v1/connections/{id}/refresh/"): (
        "Refresh the connection's tokens now",
        f"{B}/connections/12/refresh/ -X POST",
    ),
    ("post", "/api/v1/exchanges/{exchange}/connect/"): (
        "Start connecting an exchange",
        f'{B}/exchanges/kucoin/connect/ {J} -d \'{{"permissions": ["API_COMMON"]}}\'',
    ),
    ("get", "/api/v1/audit-events/"): (
        "The broker's audit log (broker admins)",
        f"{B}/audit-events/?action=member.created&limit=100",
    ),
    ("get", "/api/v1/exports/"): ("Your export jobs", f"{B}/exports/"),
    ("post", "/api/v1/exports/"): (
        "Request an export",
        f'{B}/exports/ {J} -d \'{{"scope": "user", "kinds": ["trade", "deposit"], '
        f'"format": "koinly", "date_from": "2025-01-01", "date_to": "2025-12-31"}}\'',
    ),
    ("get", "/api/v1/exports/{id}/"): ("An export job and its progress", f"{B}/exports/7/"),
    ("get", "/api/v1/exports/{id}/download/"): ("Download an export's file", f"{B}/exports/7/download/ -o export.csv"),
    ("get", "/api/v1/history-sync/"): ("What each connection's synced history covers", f"{B}/history-sync/"),
    ("get", "/api/v1/withdrawals/"): ("Your withdrawals, newest first", f"{B}/withdrawals/?limit=20"),
    ("post", "/api/v1/withdrawals/"): (
        "Start a withdrawal (details)",
        f'{B}/withdrawals/ {J} -H "Idempotency-Key: $(uuidgen)" -d \'{{"connection": 12, "currency": "USDT", '
        f'"chain": "trx", "destination": "T…", "amount": "25.5"}}\'',
    ),
    ("get", "/api/v1/withdrawals/{id}/"): ("A withdrawal and its status", f"{B}/withdrawals/31/"),
    ("post", "/api/v1/withdrawals/{id}/factors/"): (
        "Confirm it is you and ask the exchange for its codes",
        f'{B}/withdrawals/31/factors/ {J} -d \'{{"mfa_code": "123456"}}\'',
    ),
    ("post", "/api/v1/withdrawals/{id}/preview/"): (
        "Preview fees and what arrives",
        f"{B}/withdrawals/31/preview/ -X POST",
    ),
    ("post", "/api/v1/withdrawals/{id}/submit/"): (
        "Send the withdrawal with the exchange's codes",
        f'{B}/withdrawals/31/submit/ {J} -H "Idempotency-Key: $KEY" -d \'{{"codes": {{"email": "123456"}}}}\'',
    ),
    ("get", "/api/v1/connections/{id}/orders/"): (
        "The connection's open orders and order history",
        f"{B}/connections/12/orders/",
    ),
    ("post", "/api/v1/connections/{id}/orders/preview/"): (
        "Preview an order: rounded, its fee and the balances after",
        f"{B}/connections/12/orders/preview/ {J} -d '{ORDER_BODY}'",
    ),
    ("post", "/api/v1/connections/{id}/orders/"): (
        "Place an order (with the broker's attribution)",
        f"{B}/connections/12/orders/ {J} -H \"Idempotency-Key: $(uuidgen)\" -d '{ORDER_BODY}'",
    ),
    ("get", "/api/v1/connections/{id}/orders/{order_pk}/"): (
        "An order with its status and fills",
        f"{B}/connections/12/orders/5/",
    ),
    ("post", "/api/v1/connections/{id}/orders/{order_pk}/cancel/"): (
        "Cancel an open order",
        f'{B}/connections/12/orders/5/cancel/ -X POST -H "Idempotency-Key: $(uuidgen)"',
    ),
    ("get", "/api/v1/payouts/batches/"): ("The broker's payout batches (broker admins)", f"{B}/payouts/batches/"),
    ("post", "/api/v1/payouts/batches/"): (
        "Create a payout batch (idempotent by each payout's reference)",
        f'{B}/payouts/batches/ {J} -d \'{{"name": "March airdrop", "payouts": [{{"connection": 12, '
        f'"asset": "USDT", "network": "trx", "amount": "25", "reference": "mar-0001"}}]}}\'',
    ),
    ("get", "/api/v1/payouts/batches/{id}/"): ("A payout batch and its payouts", f"{B}/payouts/batches/3/"),
    ("post", "/api/v1/payouts/batches/{id}/resolve/"): (
        "Resolve the users' deposit addresses now",
        f"{B}/payouts/batches/3/resolve/ -X POST",
    ),
    ("get", "/api/v1/payouts/{id}/"): ("One payout and its status", f"{B}/payouts/41/"),
    ("post", "/api/v1/payouts/{id}/sent/"): (
        "Record that the broker's wallet sent it",
        f'{B}/payouts/41/sent/ {J} -d \'{{"txid": "0xabc…"}}\'',
    ),
    ("get", "/api/v1/payouts/export/"): ("The payouts as the accountant's CSV", f"{B}/payouts/export/ -o payouts.csv"),
    ("get", "/api/v1/webhooks/"): ("The broker's webhook endpoints (broker admins)", f"{B}/webhooks/"),
    ("post", "/api/v1/webhooks/"): (
        "Add an endpoint (its secret is in this answer only)",
        f'{B}/webhooks/ {J} -d \'{{"url": "https://backoffice.example/hooks", '
        f'"event_types": ["withdrawal.status_changed"]}}\'',
    ),
    ("get", "/api/v1/webhooks/{id}/"): ("One endpoint", f"{B}/webhooks/2/"),
    ("patch", "/api/v1/webhooks/{id}/"): (
        "Change or pause an endpoint",
        f"{B}/webhooks/2/ -X PATCH {J} -d '{{\"enabled\": false}}'",
    ),
    ("delete", "/api/v1/webhooks/{id}/"): ("Delete an endpoint", f"{B}/webhooks/2/ -X DELETE"),
    ("get", "/api/v1/webhooks/{id}/deliveries/"): ("The endpoint's delivery log", f"{B}/webhooks/2/deliveries/"),
    ("post", "/api/v1/webhooks/{id}/deliveries/{delivery_pk}/replay/"): (
        "Send one delivery again (same webhook-id)",
        f"{B}/webhooks/2/deliveries/90/replay/ -X POST",
    ),
    ("post", "/api/v1/webhooks/{id}/replay-failed/"): (
        "Send again every failed delivery in a time range",
        f'{B}/webhooks/2/replay-failed/ {J} -d \'{{"since": "2026-11-30T00:00:00Z", '
        f'"until": "2026-12-01T00:00:00Z"}}\'',
    ),
    ("post", "/api/v1/webhooks/{id}/rotate-secret/"): (
        "Rotate the signing secret (the old one signs for a while)",
        f"{B}/webhooks/2/rotate-secret/ -X POST",
    ),
    ("post", "/api/v1/webhooks/{id}/test/"): ("Send a test event", f"{B}/webhooks/2/test/ -X POST"),
    ("get", "/api/v1/webhooks/event-types/"): (
        "The event catalogue with each payload's schema",
        f"{B}/webhooks/event-types/",
    ),
}


def describe_operations(result, generator, request, public):
    """The API's introduction (authentication, paging, errors, retries) and, on each operation, a summary and
    an example request beside what its view says."""
    result.setdefault("info", {})["description"] = API_DESCRIPTION
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            summary, example = OPERATIONS.get((method, path), (None, None))
            if summary:
                operation.setdefault("summary", summary)
            if example:
                own = operation.get("description", "")
                operation["description"] = f"{own}\n\nExample:\n\n    {example}".strip()
    return result
