"""A tenant's webhook endpoint, made as the admin makes one."""

from webhooks import services


def make_endpoint(tenant, url, event_types=()):
    return services.endpoint_create(tenant=tenant, url=url, event_types=event_types)
