from django.urls import path

from .views import connect_callback, connect_start, disconnect


def connect_urlpatterns(provider_class):
    """``/connect/<exchange>/`` starts a flow, ``/connect/<exchange>/callback/`` ends it; where the exchange has
    several servers per tenant, ``/connect/<exchange>/<server>/`` and ``…/<server>/callback/`` too."""
    exchange_id = provider_class.id
    patterns = [
        path(f"{exchange_id}/", connect_start, {"exchange_id": exchange_id}, name=f"{exchange_id}_connect"),
        path(
            f"{exchange_id}/callback/", connect_callback, {"exchange_id": exchange_id}, name=f"{exchange_id}_callback"
        ),
        path(
            f"{exchange_id}/<int:connection_id>/disconnect/",
            disconnect,
            {"exchange_id": exchange_id},
            name=f"{exchange_id}_disconnect",
        ),
    ]
    if getattr(provider_class, "several_servers", False):
        # ``/connect/<exchange>/<server>/`` and its callback: one of the tenant's servers of this exchange.
        patterns += [
            path(
                f"{exchange_id}/<slug:server>/",
                connect_start,
                {"exchange_id": exchange_id},
                name=f"{exchange_id}_server_connect",
            ),
            path(
                f"{exchange_id}/<slug:server>/callback/",
                connect_callback,
                {"exchange_id": exchange_id},
                name=f"{exchange_id}_server_callback",
            ),
        ]
    return patterns
