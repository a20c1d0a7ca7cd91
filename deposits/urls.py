from django.urls import path

from . import views

urlpatterns = [
    path("<int:connection_id>/", views.receive, name="receive"),
    path("<int:connection_id>/create/", views.receive_create, name="receive_create"),
]
