"""History sync: one module per exchange (what to call, how to page, how to read a row) over one paging loop."""

import pkgutil
from importlib import import_module

from .base import HistorySource


def history_sources() -> list[HistorySource]:
    """Every exchange module's ``SOURCE``: adding an exchange adds a module here, and it is found without a list."""
    return [import_module(f"{__name__}.{module.name}").SOURCE
            for module in pkgutil.iter_modules(__path__) if module.name != "base"]
