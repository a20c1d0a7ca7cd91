"""Each exchange lives in one package, found by one mechanism, and an incomplete package fails at start-up."""

import dataclasses

from django.core.management import call_command

from connectors import checks
from connectors.base.history import HistorySource
from connectors.base.withdrawals import ExchangeWithdrawals
from connectors.exchanges import EXCHANGES, exchange_packages, history_source, simulated_exchanges, withdrawal_hooks


def test_every_exchange_package_is_found_with_its_pieces():
    packages = exchange_packages()
    assert list(packages) == ["kucoin", "okx", "kraken", "peatio", "oauth2"]
    for exchange_id, package in packages.items():
        assert package.module == f"connectors.{exchange_id}"
        assert package.provider_class.id == exchange_id
        assert EXCHANGES[exchange_id] is package.exchange
    assert {i for i, p in packages.items() if isinstance(p.withdrawals, ExchangeWithdrawals)} == {"kucoin", "kraken"}
    assert {i for i, p in packages.items() if isinstance(p.history, HistorySource)} == {
        "kucoin",
        "okx",
        "kraken",
        "peatio",
    }
    assert [package.exchange.id for package in simulated_exchanges()] == ["kucoin", "okx", "kraken", "peatio"]
    assert withdrawal_hooks("okx") is None and withdrawal_hooks("nowhere") is None
    assert history_source("kraken").exchange == "kraken" and history_source("oauth2") is None


def test_the_installed_packages_pass_the_start_up_check():
    assert checks.exchange_packages_check() == []
    call_command("check", fail_level="ERROR")


def test_the_check_names_what_is_wrong_with_a_package(monkeypatch):
    kucoin, okx = exchange_packages()["kucoin"], exchange_packages()["okx"]
    broken = {
        "kucoin": dataclasses.replace(
            kucoin, exchange=dataclasses.replace(kucoin.exchange, default_permissions=("API_COMMON", "API_TELEPORT"))
        ),
        # OKX offers no withdrawal permission, so hooks for it, and a history source naming KuCoin, are mistakes.
        "okx": dataclasses.replace(okx, withdrawals=kucoin.withdrawals, history=kucoin.history, provider_class=None),
    }
    monkeypatch.setattr(checks, "exchange_packages", lambda: broken)
    found = {(error.id, error.msg) for error in checks.exchange_packages_check()}
    assert found == {
        ("connectors.E003", "kucoin: default_permissions names permissions it does not have: API_TELEPORT."),
        ("connectors.E001", "okx: the package has no provider module (provider_classes)."),
        ("connectors.E004", "okx: it has withdrawal hooks but no permission that allows a withdrawal."),
        ("connectors.E005", "okx: its history source names the exchange 'kucoin'."),
    }


def test_the_credential_admin_shows_an_exchanges_own_settings_fields_on_its_credentials_only(rf, admin_user):
    from django.contrib import admin

    from connectors.forms import ExchangeCredentialForm
    from connectors.models import ExchangeCredential

    model_admin = admin.site._registry[ExchangeCredential]
    request = rf.get("/")
    request.user = admin_user

    def sections(exchange_id):
        return [name for name, _ in model_admin.get_fieldsets(request, ExchangeCredential(exchange=exchange_id))]

    # KuCoin's package declares its settings fields (connectors/kucoin/credential.py); nothing else names them.
    assert {"kucoin_partner", "kucoin_broker_name", "kucoin_key_creation"} <= set(ExchangeCredentialForm.base_fields)
    assert "KuCoin" in sections("kucoin") and "KuCoin" not in sections("okx")
    assert sections("okx")[-1] == "Exchange-specific settings (JSON)"
