from django.urls import path

from . import views

urlpatterns = [
    path("", views.withdrawal_index, name="withdrawal_index"),
    path("new/<int:connection_id>/", views.withdrawal_details, name="withdrawal_new"),
    path("exchange-security/", views.withdrawal_security_return, name="withdrawal_security_return"),
    path("<int:withdrawal_id>/details/", views.withdrawal_details, name="withdrawal_details"),
    path("<int:withdrawal_id>/preview/", views.withdrawal_preview, name="withdrawal_preview"),
    path("<int:withdrawal_id>/step-up/", views.withdrawal_step_up, name="withdrawal_step_up"),
    path("<int:withdrawal_id>/verify/", views.withdrawal_verify, name="withdrawal_verify"),
    path("<int:withdrawal_id>/cancel/", views.withdrawal_cancel, name="withdrawal_cancel"),
    path("<int:withdrawal_id>/", views.withdrawal_status, name="withdrawal_status"),
]
