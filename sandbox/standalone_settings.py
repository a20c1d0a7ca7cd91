"""Settings for serving the sandbox alone: the project's settings (development by default, or the module
named by SANDBOX_BASE_SETTINGS, e.g. "test") with only the sandbox's URLs and the middleware its pages need."""

import importlib
import os

from sandbox.standalone import MIDDLEWARE as STANDALONE_MIDDLEWARE

_base = importlib.import_module(f"broker_portal.settings.{os.environ.get('SANDBOX_BASE_SETTINGS', 'development')}")
globals().update({name: value for name, value in vars(_base).items() if name.isupper()})

if "sandbox" not in INSTALLED_APPS:  # noqa: F821
    INSTALLED_APPS = [*INSTALLED_APPS, "sandbox"]  # noqa: F821
ROOT_URLCONF = "sandbox.standalone_urls"
MIDDLEWARE = STANDALONE_MIDDLEWARE
ALLOWED_HOSTS = ["*"]
EXCHANGE_SANDBOX = True
