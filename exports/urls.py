from django.urls import path

from . import views

app_name = "exports"

urlpatterns = [
    path("", views.export_index, name="index"),
    path("<int:job_id>/", views.export_detail, name="detail"),
    path("<int:job_id>/status", views.export_status, name="status"),
    path("<int:job_id>/download", views.export_download, name="download"),
    path("sync/<int:connection_id>", views.history_sync, name="sync"),
    path("pick/<slug:kind>", views.export_picker, name="picker"),
]
