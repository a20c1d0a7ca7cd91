from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import views, views_deposits, views_money, views_payouts, views_tokens, views_trading, views_webhooks

v1 = [
    path("connections/", views.ConnectionList.as_view(), name="api-connections"),
    path("connections/<int:pk>/", views.ConnectionDetail.as_view(), name="api-connection"),
    path("connections/<int:pk>/refresh/", views.ConnectionRefresh.as_view(), name="api-connection-refresh"),
    path("connections/<int:pk>/disconnect/", views.ConnectionDisconnect.as_view(), name="api-connection-disconnect"),
    path("connections/<int:pk>/balances/", views.ConnectionBalances.as_view(), name="api-connection-balances"),
    path(
        "connections/<int:pk>/deposit-networks/",
        views_deposits.ConnectionDepositNetworks.as_view(),
        name="api-connection-deposit-networks",
    ),
    path(
        "connections/<int:pk>/deposit-address/",
        views_deposits.ConnectionDepositAddress.as_view(),
        name="api-connection-deposit-address",
    ),
    path("connections/<int:pk>/orders/", views_trading.ConnectionOrders.as_view(), name="api-connection-orders"),
    path(
        "connections/<int:pk>/orders/preview/",
        views_trading.ConnectionOrderPreview.as_view(),
        name="api-connection-order-preview",
    ),
    path(
        "connections/<int:pk>/orders/<int:order_pk>/",
        views_trading.ConnectionOrderDetail.as_view(),
        name="api-connection-order",
    ),
    path(
        "connections/<int:pk>/orders/<int:order_pk>/cancel/",
        views_trading.ConnectionOrderCancel.as_view(),
        name="api-connection-order-cancel",
    ),
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
    path("webhooks/", views_webhooks.EndpointListCreate.as_view(), name="api-webhooks"),
    path("webhooks/event-types/", views_webhooks.EventTypeList.as_view(), name="api-webhook-event-types"),
    path("webhooks/<int:pk>/", views_webhooks.EndpointDetail.as_view(), name="api-webhook"),
    path(
        "webhooks/<int:pk>/rotate-secret/",
        views_webhooks.EndpointRotateSecret.as_view(),
        name="api-webhook-rotate-secret",
    ),
    path("webhooks/<int:pk>/test/", views_webhooks.EndpointTestFire.as_view(), name="api-webhook-test"),
    path("webhooks/<int:pk>/deliveries/", views_webhooks.DeliveryList.as_view(), name="api-webhook-deliveries"),
    path(
        "webhooks/<int:pk>/deliveries/<int:delivery_pk>/replay/",
        views_webhooks.DeliveryReplay.as_view(),
        name="api-webhook-delivery-replay",
    ),
    path(
        "webhooks/<int:pk>/replay-failed/",
        views_webhooks.DeliveriesReplayFailed.as_view(),
        name="api-webhook-replay-failed",
    ),
    path("payouts/batches/", views_payouts.PayoutBatchListCreate.as_view(), name="api-payout-batches"),
    path("payouts/batches/<int:pk>/", views_payouts.PayoutBatchDetail.as_view(), name="api-payout-batch"),
    path(
        "payouts/batches/<int:pk>/resolve/", views_payouts.PayoutBatchResolve.as_view(), name="api-payout-batch-resolve"
    ),
    path("payouts/export/", views_payouts.PayoutExport.as_view(), name="api-payouts-export"),
    path("payouts/<int:pk>/", views_payouts.PayoutDetail.as_view(), name="api-payout"),
    path("payouts/<int:pk>/sent/", views_payouts.PayoutSent.as_view(), name="api-payout-sent"),
]

urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file, so the CSP needs no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("tokens/", views_tokens.token_list, name="api-tokens"),
    path("tokens/<int:pk>/revoke/", views_tokens.token_revoke, name="api-token-revoke"),
]
