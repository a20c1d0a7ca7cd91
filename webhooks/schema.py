"""The event catalogue in the OpenAPI document: one component per event type (the Standard Webhooks envelope
around its data) and, as OpenAPI 3.0 has no ``webhooks`` section, an ``x-webhooks`` entry per type describing the
POST a receiver gets (the layout OpenAPI 3.1's ``webhooks`` uses, which Redoc reads)."""

from .events import CATALOGUE, TEST_EVENT

HEADERS = [
    ("webhook-id", "The delivery's id: the same on every retry and replay; deduplicate on it."),
    ("webhook-timestamp", "Seconds since the epoch when this attempt was signed; refuse one too far from now."),
    (
        "webhook-signature",
        "Space-separated `v1,<base64 HMAC-SHA256 of id.timestamp.body>`, one per secret in use "
        "(two during a rotation's overlap). Verify with the standardwebhooks library.",
    ),
]


def component_name(event_name: str) -> str:
    return "WebhookEvent_" + event_name.replace(".", "_")


def envelope(event) -> dict:
    return {
        "type": "object",
        "description": event.description,
        "required": ["type", "timestamp", "data"],
        "properties": {
            "type": {"type": "string", "enum": [event.name]},
            "timestamp": {"type": "string", "format": "date-time", "description": "When the event happened."},
            "data": event.data_schema,
        },
    }


def add_event_schemas(result, generator, request, public):
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    hooks = {}
    for event in [*CATALOGUE.values(), TEST_EVENT]:
        name = component_name(event.name)
        schemas[name] = envelope(event)
        hooks[event.name] = {
            "post": {
                "summary": event.description,
                "parameters": [
                    {
                        "in": "header",
                        "name": header,
                        "required": True,
                        "schema": {"type": "string"},
                        "description": meaning,
                    }
                    for header, meaning in HEADERS
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
                },
                "responses": {
                    "2XX": {
                        "description": "Received. Anything else, or no answer within "
                        "WEBHOOK_TIMEOUT_SECONDS, is retried."
                    }
                },
            }
        }
    result["x-webhooks"] = hooks
    return result
