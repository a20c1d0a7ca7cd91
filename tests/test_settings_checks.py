"""A malformed setting fails a system check at start, naming its environment variable, not a request later."""

import ipaddress

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from broker_portal.settings.base import env_floats, rate_limits

OWN_CHECKS = {f"broker_portal.E{number:03}" for number in range(2, 10)}

MALFORMED = [
    # rate limits
    ("PORTAL_RATE_LIMITS", {"withdrawal_submit": {"user": "10/60"}}, "broker_portal.E002", "'exchange_connect'"),
    ("PORTAL_RATE_LIMITS", {"withdrawl_submit": {"user": "1/60"}}, "broker_portal.E002", "'withdrawl_submit'"),
    ("PORTAL_RATE_LIMITS", {"withdrawal_submit": {"user": "ten/60"}}, "broker_portal.E002", "'ten/60'"),
    ("PORTAL_RATE_LIMITS", {"withdrawal_submit": {"user": "10/0"}}, "broker_portal.E002", "'10/0'"),
    ("PORTAL_RATE_LIMITS", {"withdrawal_submit": {"ip": "10/60"}}, "broker_portal.E002", "'ip'"),
    ("PORTAL_RATE_LIMITS", "10/60", "broker_portal.E002", "must be a dict"),
    (
        "REST_FRAMEWORK",
        {"DEFAULT_THROTTLE_RATES": {"user": "120 per minute", "tenant": "3000/min"}},
        "broker_portal.E002",
        "API_RATE_PER_USER",
    ),
    # key lists
    ("FERNET_KEYS", ["key-one", "key-one"], "broker_portal.E003", "entry 2 repeats entry 1"),
    ("FERNET_KEYS", ["key one"], "broker_portal.E003", "whitespace"),
    ("FERNET_KEYS", "key-one", "broker_portal.E003", "must be a list"),
    (
        "OKX_EXTRA_INVALID_API_KEY_CODES",
        ("50119", "API key gone"),
        "broker_portal.E003",
        "OKX_EXTRA_INVALID_API_KEY_CODES",
    ),
    # host and address lists
    ("ALLOWED_HOSTS", ["https://portal.example.com"], "broker_portal.E004", "'https://portal.example.com'"),
    ("ALLOWED_HOSTS", ["portal.example.com:8000"], "broker_portal.E004", "'portal.example.com:8000'"),
    ("EXCHANGE_ALLOWED_EXTRA_HOSTS", ["auth.broker.internal/oauth"], "broker_portal.E004", "EXCHANGE_ALLOWED"),
    ("EXCHANGE_ALLOWED_EXTRA_HOSTS", "auth.broker.internal", "broker_portal.E004", "must be a comma-separated list"),
    ("METRICS_ALLOWED_IPS", ["10.0.0.0/8"], "broker_portal.E004", "METRICS_ALLOWED_IPS"),
    # numbers
    ("EXPORTS_HISTORY_DAYS", 0, "broker_portal.E005", "EXPORTS_HISTORY_DAYS must be an integer of at least 1"),
    ("WITHDRAWAL_PREVIEW_TTL_SECONDS", "300", "broker_portal.E005", "must be an integer"),
    ("TOKEN_REFRESH_BACKOFF_BASE_SECONDS", -30, "broker_portal.E005", "must be a number above 0"),
    ("CONNECTION_HEALTH_COUNTS_SECONDS", -1, "broker_portal.E005", "must be an integer of at least 0"),
    ("EXPORTS_SYNC_PAUSE_SCALE", float("nan"), "broker_portal.E005", "EXPORTS_SYNC_PAUSE_SCALE"),
    ("SANDBOX_PEATIO_REQUESTS_PER_WINDOW", True, "broker_portal.E005", "must be an integer"),
    ("CELERY_WORKER_CONCURRENCY", 0, "broker_portal.E005", "CELERY_WORKER_CONCURRENCY"),
    ("EXCHANGE_HTTP_TIMEOUT", (5, 0), "broker_portal.E005", "EXCHANGE_HTTP_TIMEOUT"),
    ("EXCHANGE_HTTP_TIMEOUT", (5, 20, 1), "broker_portal.E005", "EXCHANGE_HTTP_TIMEOUT"),
    # webhooks
    ("WEBHOOK_TIMEOUT_SECONDS", 0, "broker_portal.E006", "WEBHOOK_TIMEOUT_SECONDS must be a number above 0"),
    ("WEBHOOK_SECRET_OVERLAP_HOURS", -1, "broker_portal.E006", "WEBHOOK_SECRET_OVERLAP_HOURS"),
    ("WEBHOOK_URLS_PUBLIC_ONLY", "false", "broker_portal.E006", "true or false"),
    # balances
    ("BALANCES_FILL_THREADS", 0, "broker_portal.E007", "BALANCES_FILL_THREADS must be an integer of at least 1"),
    ("BALANCES_PAGE_WAIT_SECONDS", -0.05, "broker_portal.E007", "BALANCES_PAGE_WAIT_SECONDS"),
    # modes
    ("DATABASE_PLAN_CACHE_MODE", "custom", "broker_portal.E008", "'custom'"),
    ("CELERY_WORKER_POOL", "thread", "broker_portal.E009", "'thread'"),
]


def own_errors():
    return [message for message in run_checks() if message.id in OWN_CHECKS]


def test_the_settings_as_declared_pass_every_check():
    assert own_errors() == []


@pytest.mark.parametrize(("name", "value", "error_id", "said"), MALFORMED)
def test_a_malformed_setting_fails_its_check(name, value, error_id, said):
    with override_settings(**{name: value}):
        errors = own_errors()
    assert {error.id for error in errors} == {error_id}, errors
    assert any(said in error.msg for error in errors), errors


def test_the_values_that_mean_none_or_always_pass():
    with override_settings(
        EXPORTS_SYNC_PAUSE_SCALE=0,
        BALANCES_FRESH_SECONDS=0,
        API_KEY_CHECK_SPREAD_SECONDS=0,
        CONNECTION_HEALTH_COUNTS_SECONDS=0,
        DATABASE_POOL_MAX_SIZE=0,
        CELERY_WORKER_CONCURRENCY=None,
        EXCHANGE_HTTP_TIMEOUT=7.5,
        ALLOWED_HOSTS=["*", ".example.com", "[::1]", "10.0.0.1", "portal.example.com."],
        METRICS_ALLOWED_IPS=[ipaddress.ip_network("10.0.0.0/8")],
        CELERY_WORKER_POOL="threads",
    ):
        assert own_errors() == []


def test_the_environment_changes_single_rate_limits_over_the_defaults():
    defaults = {"withdrawal_submit": {"user": "10/60", "tenant": "300/60"}}
    assert rate_limits(defaults, " withdrawal_submit.user = 5/60 ,") == {
        "withdrawal_submit": {"user": "5/60", "tenant": "300/60"}
    }
    assert defaults["withdrawal_submit"]["user"] == "10/60"
    # What does not parse is kept for the check to name.
    assert rate_limits(defaults, "withdrawal_submit=5/60")["withdrawal_submit"][""] == "5/60"


def test_a_timeout_is_one_number_or_connect_and_read(monkeypatch):
    monkeypatch.setenv("EXCHANGE_HTTP_TIMEOUT", "3, 15")
    assert env_floats("EXCHANGE_HTTP_TIMEOUT", (5, 20)) == (3.0, 15.0)
    monkeypatch.setenv("EXCHANGE_HTTP_TIMEOUT", "10")
    assert env_floats("EXCHANGE_HTTP_TIMEOUT", (5, 20)) == 10.0
