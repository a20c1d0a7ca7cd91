from django.urls import path

from . import views

urlpatterns = [
    path("<int:connection_id>/", views.ticket, name="trade"),
    path("<int:connection_id>/preview/", views.preview, name="trade_preview"),
    path("<int:connection_id>/place/", views.place, name="trade_place"),
    path("<int:connection_id>/orders/<int:order_id>/", views.order_detail, name="trade_order"),
    path("<int:connection_id>/orders/<int:order_id>/cancel/", views.order_cancel, name="trade_order_cancel"),
]
