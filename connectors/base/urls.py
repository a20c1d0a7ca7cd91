from django.urls import path

from .views import connect_callback, connect_start, disconnect


def connect_urlpatterns(provider_class):
    """``/connect/<exchange>/`` starts a flow, ``/connect/<exchange>/callback/`` ends it."""
    exchange_id = provider_class.id
    return [
        path(f"{exchange_id}/", connect_start, {"exchange_id": exchange_id}, name=f"{exchange_id}_connect"),
        path(f"{exchange_id}/callback/", connect_callback, {"exchange_id": exchange_id},
             name=f"{exchange_id}_callback"),
        path(f"{exchange_id}/<int:connection_id>/disconnect/", disconnect, {"exchange_id": exchange_id},
             name=f"{exchange_id}_disconnect"),
    ]
