"""Paths under /sandbox/<exchange>/ mirror the real exchanges', so a client changes only its base URL."""

from django.urls import path, re_path

from . import faults
from .exchanges import KRAKEN_AUTHORIZE_LANGUAGES
from .views import control, kraken, kucoin, okx, peatio
from .views import oauth as oauth_views

app_name = "sandbox"


def authorize(exchange: str):
    return faults.endpoint(exchange, "authorize")(lambda request: oauth_views.authorize(request, exchange))


CODE, REFRESH = "code", "refresh"

# KuCoin has two hosts (Fast API document, sections 4 and 7): www.kucoin.com for the login, the token calls, the
# key creation and the security setup page (here /sandbox/kucoin-www/), api.kucoin.com for signed REST (here
# /sandbox/kucoin/). Each answers only its own paths.
kucoin_www_urls = [
    path("kucoin-www/oauth", authorize("kucoin"), name="kucoin-authorize"),  # section 7.1 (level B)
    path("kucoin-www/_oauth/access-token", kucoin.access_token),
    path("kucoin-www/_oauth/refresh-token", kucoin.refresh_token),
    path("kucoin-www/_oauth/resource/ucenter/outer/api-key/add", kucoin.api_key_add_v1),
    path("kucoin-www/_oauth/resource/cyber-truck-vault/v2/outer/api-key/add", kucoin.api_key_add_v2),
    path("kucoin-www/account/security/g2fa", oauth_views.kucoin_g2fa, name="kucoin-g2fa"),
]

kucoin_urls = [
    re_path(r"^kucoin/(?P<path>_oauth/.*|oauth)$", kucoin.api_at_www_host),
    path("kucoin/api/v1/accounts", kucoin.accounts),
    path("kucoin/api/v1/accounts/ledgers", kucoin.ledgers),
    path("kucoin/api/v3/currencies/<str:code>", kucoin.currency_detail),
    path("kucoin/api/v1/prices", kucoin.prices),
    path("kucoin/api/v1/market/orderbook/level1", kucoin.level1),
    path("kucoin/api/v1/fills", kucoin.fills),
    path("kucoin/api/v1/hf/fills", kucoin.hf_fills),
    path("kucoin/api/v1/hf/accounts/opened", kucoin.hf_accounts_opened),
    path("kucoin/api/v1/hf/accounts/ledgers", kucoin.hf_ledgers),
    path("kucoin/api/v2/symbols", kucoin.symbols),
    path("kucoin/api/v2/symbols/<str:symbol>", kucoin.symbol_detail),
    path("kucoin/api/v1/trade-fees", kucoin.trade_fees),
    path("kucoin/api/v1/hf/orders", kucoin.hf_order_add),
    path("kucoin/api/v1/hf/orders/active", kucoin.hf_orders_active),
    path("kucoin/api/v1/hf/orders/active/symbols", kucoin.hf_orders_active_symbols),
    path("kucoin/api/v1/hf/orders/done", kucoin.hf_orders_done),
    path("kucoin/api/v1/hf/orders/client-order/<str:client_oid>", kucoin.hf_order_by_client_oid),
    path("kucoin/api/v1/hf/orders/<str:order_id>", kucoin.hf_order),
    path("kucoin/api/v1/deposits", kucoin.deposits),
    path("kucoin/api/v1/withdrawals", kucoin.withdrawal_list),
    path("kucoin/api/v1/withdrawals/<str:withdrawal_id>", kucoin.withdrawal_detail),
    path("kucoin/api/v3/withdrawals", kucoin.withdraw),
    path("kucoin/api/v3/deposit-addresses", kucoin.deposit_addresses),
    path("kucoin/api/v3/deposit-address/create", kucoin.deposit_address_create),
]

# After the authorization, a user's calls go to the callback's regional domain (okx.on_regional_host); the
# public market data answers anywhere.
okx_urls = [
    path("okx/account/oauth/authorize", authorize("okx"), name="okx-authorize"),
    path("okx/api/v5/market/ticker", okx.ticker),
    path("okx/api/v5/public/instruments", okx.instruments),
    *[
        path(route, okx.on_regional_host(view))
        for route, view in [
            # Fast API has no refresh token, so the refresh grant is refused (INTEGRATION_GUIDE.md step 3).
            ("okx/v5/users/oauth/token", oauth_views.token_view("okx", {"authorization_code": CODE})),
            ("okx/v5/users/oauth/revoke", oauth_views.revoke_view("okx")),
            ("okx/api/v5/users/oauth/apikey", okx.apikey_create),
            ("okx/api/v5/users/oauth/delete-apikey", okx.apikey_delete),
            ("okx/api/v5/account/balance", okx.balance),
            ("okx/api/v5/asset/currencies", okx.currencies),
            ("okx/api/v5/trade/fills", okx.fills),
            ("okx/api/v5/trade/fills-history", okx.fills_history),
            ("okx/api/v5/asset/deposit-history", okx.deposit_history),
            ("okx/api/v5/asset/withdrawal-history", okx.withdrawal_history),
            ("okx/api/v5/account/bills", okx.bills),
            ("okx/api/v5/account/bills-archive", okx.bills_archive),
            ("okx/api/v5/asset/withdrawal", okx.withdrawal),
            ("okx/api/v5/asset/deposit-address", okx.deposit_address),
            ("okx/api/v5/account/trade-fee", okx.trade_fee),
            ("okx/api/v5/trade/order", okx.order_route),
            ("okx/api/v5/trade/cancel-order", okx.order_cancel),
            ("okx/api/v5/trade/orders-pending", okx.orders_pending),
            ("okx/api/v5/trade/orders-history", okx.orders_history),
        ]
    ],
]

# krakenfx/api-specs oauth/openapi_v3.yaml: getOAuthCode, getOAuthCodeWithLanguage (the path's language enum),
# getOAuthToken, getOAuthInfo, and one /fast-api-key path for create/list/update/delete (no delete by id).
kraken_urls = [
    path("kraken/oauth/authorize", authorize("kraken"), name="kraken-authorize"),
    re_path(
        rf"^kraken/(?:{'|'.join(KRAKEN_AUTHORIZE_LANGUAGES)})/oauth/authorize$",
        authorize("kraken"),
        name="kraken-authorize-language",
    ),
    path(
        "kraken/oauth/token", oauth_views.token_view("kraken", {"authorization_code": CODE, "refresh_token": REFRESH})
    ),
    path("kraken/oauth/userinfo", kraken.userinfo),
    path("kraken/oauth/fast-api-key", kraken.fast_api_key),
    re_path(r"^kraken/0/private/(?P<method>[A-Za-z]+)$", kraken.private),
    path("kraken/0/public/Ticker", kraken.ticker),
    path("kraken/0/public/Assets", kraken.assets),
    path("kraken/0/public/AssetPairs", kraken.asset_pairs),
]

# hpyhacking/peatio before 2017-12-22: Doorkeeper 1.4's authorize, token and revoke (documents/oauth.en.html.slim,
# config/initializers/doorkeeper.rb) and app/api/api_v2/members.rb; the history endpoints are api_v2's too.
peatio_urls = [
    path("peatio/oauth/authorize", authorize("peatio"), name="peatio-authorize"),
    path(
        "peatio/oauth/token", oauth_views.token_view("peatio", {"authorization_code": CODE, "refresh_token": REFRESH})
    ),
    path("peatio/oauth/revoke", peatio.revoke),
    path("peatio/api/v2/members/me", peatio.members_me),
    path("peatio/api/v2/markets", peatio.markets),
    path("peatio/api/v2/trades/my", peatio.trades_my),
    path("peatio/api/v2/deposits", peatio.deposits),
    path("peatio/api/v2/deposit_address", peatio.deposit_address),
]

urlpatterns = [
    path("", oauth_views.sandbox_index, name="index"),
    path("inbox/", oauth_views.inbox, name="inbox"),
    path("control/faults", control.fault_list, name="faults"),
    path("control/clock", control.clock_offset, name="clock"),
    path("control/clients", control.client_list, name="clients"),
    path("control/seed", control.seed, name="seed"),
    path("control/deposits", control.deposit, name="deposits"),
    *kucoin_www_urls,
    *kucoin_urls,
    *okx_urls,
    *kraken_urls,
    *peatio_urls,
]
