"""Every exchange package's connect URLs, found through allauth's provider registry."""

from importlib import import_module

from allauth.socialaccount.providers import registry

urlpatterns = []
for provider_class in registry.get_class_list():
    if provider_class.get_package().startswith("connectors."):
        urlpatterns += import_module(f"{provider_class.get_package()}.urls").urlpatterns
