from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import pages, views

v1 = [
    path("connections/", views.ConnectionList.as_view(), name="api-connections"),
    path("connections/<int:pk>/", views.ConnectionDetail.as_view(), name="api-connection"),
    path("connections/<int:pk>/refresh/", views.ConnectionRefresh.as_view(), name="api-connection-refresh"),
    path("connections/<int:pk>/disconnect/", views.ConnectionDisconnect.as_view(), name="api-connection-disconnect"),
    path("connections/<int:pk>/balances/", views.ConnectionBalances.as_view(), name="api-connection-balances"),
    path("exchanges/<slug:exchange>/connect/", views.ConnectionStart.as_view(), name="api-connect"),
    path("audit-events/", views.AuditEventList.as_view(), name="api-audit-events"),
]

urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file, so the CSP needs no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("tokens/", pages.token_list, name="api-tokens"),
    path("tokens/<int:pk>/revoke/", pages.token_revoke, name="api-token-revoke"),
]
