from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import pages, views, views_deposits, views_money, views_trading

v1 = [
    path("connections/", views.ConnectionList.as_view(), name="api-connections"),
    path("connections/<int:pk>/", views.ConnectionDetail.as_view(), name="api-connection"),
    path("connections/<int:pk>/refresh/", views.ConnectionRefresh.as_view(), name="api-connection-refresh"),
    path("connections/<int:pk>/disconnect/", views.ConnectionDisconnect.as_view(), name="api-connection-disconnect"),
    path("connections/<int:pk>/balances/", views.ConnectionBalances.as_view(), name="api-connection-balances"),
    path("connections/<int:pk>/deposit-networks/", views_deposits.ConnectionDepositNetworks.as_view(),
         name="api-connection-deposit-networks"),
    path("connections/<int:pk>/deposit-address/", views_deposits.ConnectionDepositAddress.as_view(),
         name="api-connection-deposit-address"),
    path("connections/<int:pk>/orders/", views_trading.ConnectionOrders.as_view(), name="api-connection-orders"),
    path("connections/<int:pk>/orders/preview/", views_trading.ConnectionOrderPreview.as_view(),
         name="api-connection-order-preview"),
    path("connections/<int:pk>/orders/<int:order_pk>/", views_trading.ConnectionOrderDetail.as_view(),
         name="api-connection-order"),
    path("connections/<int:pk>/orders/<int:order_pk>/cancel/", views_trading.ConnectionOrderCancel.as_view(),
         name="api-connection-order-cancel"),
    path("exchanges/<slug:exchange>/connect/", views.ConnectionStart.as_view(), name="api-connect"),
    path("audit-events/", views.AuditEventList.as_view(), name="api-audit-events"),
    path("withdrawals/", views_money.WithdrawalListCreate.as_view(), name="api-withdrawals"),
    path("withdrawals/<int:pk>/", views_money.WithdrawalDetail.as_view(), name="api-withdrawal"),
    path("withdrawals/<int:pk>/preview/", views_money.WithdrawalPreview.as_view(), name="api-withdrawal-preview"),
    path("withdrawals/<int:pk>/factors/", views_money.WithdrawalFactors.as_view(), name="api-withdrawal-factors"),
    path("withdrawals/<int:pk>/submit/", views_money.WithdrawalSubmit.as_view(), name="api-withdrawal-submit"),
    path("exports/", views_money.ExportListCreate.as_view(), name="api-exports"),
    path("exports/<int:pk>/", views_money.ExportDetail.as_view(), name="api-export"),
    path("exports/<int:pk>/download/", views_money.ExportDownload.as_view(), name="api-export-download"),
    path("history-sync/", views_money.HistorySyncList.as_view(), name="api-history-sync"),
]

urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file, so the CSP needs no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("tokens/", pages.token_list, name="api-tokens"),
    path("tokens/<int:pk>/revoke/", pages.token_revoke, name="api-token-revoke"),
]
