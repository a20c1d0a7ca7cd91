"""Every exchange package's connect URLs: the same three per exchange, so a package needs no urls module."""

from .base.urls import connect_urlpatterns
from .exchanges import exchange_packages

urlpatterns = [
    pattern for package in exchange_packages().values() for pattern in connect_urlpatterns(package.provider_class)
]
