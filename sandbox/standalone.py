"""Middleware for serving the sandbox alone (run_sandbox, standalone_settings); no Django imports here,
since settings import it."""

# Sessions and CSRF for the consent pages; allauth insists on its middleware being present.
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]
