"""Settings of the test authorization server; everything variable comes from the environment serve.py sets."""

import json
import os

ISSUER = os.environ["TEST_OAUTH_SERVER_ISSUER"]  # http://127.0.0.1:<port>/o
DATA_DIR = os.environ["TEST_OAUTH_SERVER_DIR"]

SECRET_KEY = "test-oauth-server-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oauth2_provider",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tests.oauth_server.middleware.IssuerInAuthorizationErrorsMiddleware",
]
ROOT_URLCONF = "tests.oauth_server.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [os.path.join(os.path.dirname(__file__), "templates")],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(DATA_DIR, "server.sqlite3")}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "/accounts/login/"
USE_TZ = True

OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": os.environ["TEST_OAUTH_SERVER_RSA_KEY"],
    "OIDC_ISS_ENDPOINT": ISSUER,
    "SCOPES": {
        "openid": "Who you are",
        "email": "Your e-mail address",
        "read": "Read your account",
        "trade": "Trade for you",
    },
    "DEFAULT_SCOPES": ["read"],
    "PKCE_REQUIRED": True,
    "ROTATE_REFRESH_TOKEN": True,
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    # RFC 9207: `iss` in every authorization response, advertised in the metadata.
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "OAUTH2_VALIDATOR_CLASS": "tests.oauth_server.validators.RegisteredClientAuthenticationValidator",
}
# Each client's registered token endpoint authentication method (RFC 7591 token_endpoint_auth_method), by client id.
TOKEN_ENDPOINT_AUTH_METHODS = json.loads(os.environ.get("TEST_OAUTH_SERVER_AUTH_METHODS", "{}"))
