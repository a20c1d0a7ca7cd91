"""The event catalogue: every type a webhook endpoint can receive, each with the JSON Schema of its ``data``.

One place, read by ``services.event_record`` (which refuses a payload with a field not declared here, so no
secret can ride along by accident), by the API (the choices of an endpoint's ``event_types``) and by the OpenAPI
document (``schema.add_event_schemas``). Payloads name tenant-scoped ids only: the connection, withdrawal and
export ids the API shows, the user's id; never a token, key, address or secret.

Every delivery's body is the Standard Webhooks envelope ``{"type", "timestamp", "data"}``
(https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md, "Payload structure").
"""

from dataclasses import dataclass, field


def _string(description: str, *, nullable: bool = False, fmt: str = "") -> dict:
    schema = {"type": "string", "description": description}
    if fmt:
        schema["format"] = fmt
    if nullable:
        schema["nullable"] = True
    return schema


def _integer(description: str) -> dict:
    return {"type": "integer", "description": description}


CONNECTION = {
    "connection_id": _integer("The connection's id (GET /api/v1/connections/{id}/)."),
    "user_id": _integer("The id of the user whose connection it is."),
    "exchange": _string("The exchange's id: kucoin, okx, kraken, peatio or oauth2."),
    "server": _string("The tenant's server of that exchange (its slug); empty where the exchange has one."),
}
WITHDRAWAL = {
    "withdrawal_id": _integer("The withdrawal's id (GET /api/v1/withdrawals/{id}/)."),
    "connection_id": CONNECTION["connection_id"],
    "user_id": _integer("The id of the user who withdraws."),
    "exchange": CONNECTION["exchange"],
    "currency": _string("The currency withdrawn."),
    "chain": _string("The network it is sent on; empty where the exchange chooses."),
    "amount": _string("The amount, a decimal number written as a string.", fmt="decimal"),
}


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    properties: dict
    required: tuple[str, ...] = field(default=())

    @property
    def data_schema(self) -> dict:
        return {
            "type": "object",
            "description": self.description,
            "properties": self.properties,
            "required": list(self.required or self.properties),
            "additionalProperties": False,
        }


CATALOGUE: dict[str, EventType] = {
    event.name: event
    for event in [
        EventType(
            "connection.connected",
            "A user connected an exchange account for the first time.",
            {
                **CONNECTION,
                "permissions": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "The permissions granted.",
                },
            },
        ),
        EventType(
            "connection.needs_reauthorization",
            "A connection stopped working (its grant or API key is gone): its user must connect again.",
            {**CONNECTION, "reason": _string("Why, e.g. invalid_grant or api key refused (50111).")},
        ),
        EventType(
            "connection.repaired",
            "A user connected the same account again: the connection works again, in place (same id).",
            {
                **CONNECTION,
                "permissions": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "The permissions granted.",
                },
            },
        ),
        EventType("connection.disconnected", "The connection was ended and its secrets erased.", CONNECTION),
        EventType(
            "connection.refresh_lapse_warning",
            "The connection's refresh token runs out soon and no refresh has succeeded; its user was told.",
            {**CONNECTION, "refresh_expires_at": _string("When the refresh token runs out.", fmt="date-time")},
        ),
        EventType(
            "withdrawal.submitted",
            "The exchange accepted a withdrawal.",
            {**WITHDRAWAL, "exchange_withdrawal_id": _string("The exchange's id for the withdrawal.")},
        ),
        EventType(
            "withdrawal.status_changed",
            "A submitted withdrawal completed or failed at the exchange.",
            {
                **WITHDRAWAL,
                "state": _string("The portal's state now: succeeded or failed."),
                "previous_state": _string("The state before: processing."),
                "exchange_status": _string("The exchange's own status word."),
                "exchange_withdrawal_id": _string("The exchange's id for the withdrawal."),
                "transaction_hash": _string(
                    "The chain's transaction hash, when the exchange's history has shown it (null until then).",
                    nullable=True,
                ),
            },
        ),
        EventType(
            "withdrawal.limit_refused",
            "One of the broker's withdrawal limits refused a withdrawal.",
            {
                **WITHDRAWAL,
                "limit_id": _integer("The limit's id."),
                "scope": _string("per_user or tenant."),
                "max_usdt": _string("The limit, in USDT.", fmt="decimal"),
                "window_hours": _integer("The limit's rolling window."),
                "value_usdt": _string("What the refused withdrawal is worth, in USDT.", fmt="decimal"),
            },
        ),
        EventType(
            "history.synced",
            "A connection's history of one kind was brought up to date.",
            {
                **CONNECTION,
                "kind": _string("The kind of history: ledger, trades, deposits or withdrawals."),
                "rows_added": _integer("Rows imported by this pass."),
            },
        ),
        EventType(
            "history.sync_failed",
            "A connection's history sync stopped with an error; it resumes where it stopped at the next sync.",
            {**CONNECTION, "kind": _string("The kind of history."), "error": _string("What went wrong, for a person.")},
        ),
        EventType(
            "export.ready",
            "An export file is ready for download.",
            {
                "export_id": _integer("The export's id (GET /api/v1/exports/{id}/download/)."),
                "format": _string("The file's format."),
                "rows": _integer("Rows written."),
                "sha256": _string("The file's SHA-256."),
                "expires_at": _string("When the file is deleted.", fmt="date-time"),
            },
        ),
        EventType(
            "export.failed",
            "An export could not be built; it can be requested again.",
            {
                "export_id": _integer("The export's id."),
                "format": _string("The file's format."),
                "error": _string("What went wrong, for a person."),
            },
        ),
    ]
}

# A test-fire from the API or the admin: sent to one endpoint only, whatever types it wants.
TEST_EVENT = EventType(
    "webhook.test",
    "A test sent on request to check an endpoint.",
    {"endpoint_id": _integer("The endpoint's id."), "message": _string("A fixed text.")},
)

EVENT_TYPE_CHOICES = [(name, name) for name in CATALOGUE]


def event_type(name: str) -> EventType:
    if name == TEST_EVENT.name:
        return TEST_EVENT
    try:
        return CATALOGUE[name]
    except KeyError:
        raise ValueError(f"{name!r} is not in the webhook event catalogue.") from None


def check_payload(name: str, payload: dict) -> None:
    """A payload carries exactly the fields its type declares: a missing or an undeclared one is a programming
    error, raised before anything is written."""
    declared = event_type(name)
    unknown = set(payload) - set(declared.properties)
    missing = set(declared.required or declared.properties) - set(payload)
    if unknown or missing:
        raise ValueError(f"{name} payload: undeclared {sorted(unknown)}, missing {sorted(missing)}.")


# --- the payloads of the portal's objects, built in one place -------------------------------------------------


def connection_data(connection, **extra) -> dict:
    return {
        "connection_id": connection.pk,
        "user_id": connection.user_id,
        "exchange": connection.exchange,
        "server": connection.server_slug,
        **extra,
    }


def withdrawal_data(withdrawal, **extra) -> dict:
    return {
        "withdrawal_id": withdrawal.pk,
        "connection_id": withdrawal.connection_id,
        "user_id": withdrawal.user_id,
        "exchange": withdrawal.exchange,
        "currency": withdrawal.currency,
        "chain": withdrawal.chain,
        "amount": str(withdrawal.amount),
        **extra,
    }
