"""Start-up checks of the exchange packages: each one complete, and no hook naming another exchange."""

from django.core.checks import Error, register

from .exchanges import exchange_packages


@register()
def exchange_packages_check(app_configs=None, **kwargs) -> list[Error]:
    errors = []
    for exchange_id, package in exchange_packages().items():
        exchange = package.exchange
        where = f"{package.module}.exchange"

        def error(message: str, code: str, where: str = where) -> None:
            errors.append(Error(message, obj=where, id=f"connectors.{code}"))

        if package.provider_class is None:
            error(f"{exchange_id}: the package has no provider module (provider_classes).", "E001")
        elif package.provider_class.id != exchange_id or package.provider_class.exchange_id != exchange_id:
            error(f"{exchange_id}: its provider is {package.provider_class.id!r}, not {exchange_id!r}.", "E002")
        codes = set(exchange.permission_codes)
        for name in ("default_permissions", "withdrawal_permissions"):
            unknown = sorted(set(getattr(exchange, name)) - codes)
            if unknown:
                error(f"{exchange_id}: {name} names permissions it does not have: {', '.join(unknown)}.", "E003")
        if package.withdrawals is not None and not exchange.withdrawal_permissions:
            error(f"{exchange_id}: it has withdrawal hooks but no permission that allows a withdrawal.", "E004")
        if package.trading is not None:
            unknown = sorted(set(package.trading.permissions) - codes)
            if unknown:
                error(
                    f"{exchange_id}: its trading hooks need permissions it does not have: {', '.join(unknown)}.", "E006"
                )
        if package.history is not None and package.history.exchange != exchange_id:
            error(f"{exchange_id}: its history source names the exchange {package.history.exchange!r}.", "E005")
    return errors
