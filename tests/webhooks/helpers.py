"""A tenant's webhook endpoint, made as the admin makes one, and a connection.connected payload."""

from webhooks import services


def make_endpoint(tenant, url, event_types=()):
    return services.endpoint_create(tenant=tenant, url=url, event_types=event_types)


CONNECTED = {"connection_id": 7, "user_id": 3, "exchange": "kucoin", "server": "", "permissions": ["General"]}
