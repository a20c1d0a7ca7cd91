from django.urls import path

from . import views

app_name = "payouts"

urlpatterns = [
    path("export.csv", views.payouts_csv, name="export"),
]
