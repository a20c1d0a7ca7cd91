from connectors.base.demo import DemoSetup

DEMO = DemoSetup(
    authorize_mount="kucoin-www",  # login, token calls and key creation are on KuCoin's www host
    extra_return_paths=("/withdrawals/exchange-security/",),  # where its security setup sends users back
    broker_attribution=True,
)
