"""Settings for running the sandbox alone (``manage.py run_sandbox``): the project's settings with only
the sandbox's URLs and the middleware its pages need."""

import os

if os.environ.get("DJANGO_SETTINGS_MODULE", "").endswith(".test"):
    from broker_portal.settings.test import *  # noqa: F401,F403
else:
    from broker_portal.settings.development import *  # noqa: F401,F403

from broker_portal.settings.base import INSTALLED_APPS as _BASE_APPS  # noqa: E402

if "sandbox" not in INSTALLED_APPS:  # noqa: F405
    INSTALLED_APPS = [*_BASE_APPS, "sandbox"]

ROOT_URLCONF = "sandbox.standalone_urls"
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
ALLOWED_HOSTS = ["*"]
EXCHANGE_SANDBOX = True
