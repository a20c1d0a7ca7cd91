from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from connectors import views as connectors_views

from . import views

handler404 = "api.errors.not_found"
handler500 = "api.errors.server_error"

urlpatterns = [
    path("", connectors_views.dashboard, name="dashboard"),
    path("branding/logo", views.tenant_logo, name="tenant_logo"),
    path("branding/exchanges/<int:credential_id>/logo", connectors_views.credential_logo, name="credential_logo"),
    path("branding/theme.css", views.tenant_theme, name="tenant_theme"),
    # allauth's account and MFA pages only: its social login views are not mounted, so an exchange can
    # connect an account but never sign anyone in.
    path("accounts/", include("allauth.account.urls")),
    # Before allauth's own: the same page under the same name, going back to ?next= once the app is set up.
    path("accounts/2fa/totp/activate/", views.activate_totp_then_back, name="mfa_activate_totp"),
    path("accounts/2fa/", include("allauth.mfa.urls")),
    path("connect/", include("connectors.urls")),
    path("api/", include("api.urls")),
    path("exports/", include("exports.urls")),
    path("withdrawals/", include("withdrawals.urls")),
    path("receive/", include("deposits.urls")),
    path("payouts/", include("payouts.urls")),
    path("trade/", include("trading.urls")),
    path("admin/", admin.site.urls),
]

if settings.EXCHANGE_SANDBOX and apps.is_installed("sandbox"):
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
