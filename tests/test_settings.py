"""Production settings: secrets from the environment only, and Django's deployment checks clean."""

import os
import subprocess
import sys

from django.conf import settings

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "broker_portal.settings.production",
    "DJANGO_SECRET_KEY": "k3!9vQ#zT7$wLp2@Xe8^Rm5&Nb4*Hc6(Jd1)Fg0-Sa_Yu+Io=Pl|Kj~Mn<Bv>Cx?",
    "FERNET_KEYS": "production-fernet-key-one,production-fernet-key-old",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/broker_portal",
    "ALLOWED_HOSTS": "portal.example.com",
    "REDIS_URL": "redis://127.0.0.1:6379/14",
}


def process_env(env: dict) -> dict:
    """This process's environment without what the test settings add or tune, with ``env`` on top."""
    leave_out = {
        *PRODUCTION_ENV,
        "EXCHANGE_SANDBOX",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
        "DATABASE_CONN_MAX_AGE",
        "CELERY_DB_REUSE_MAX",
        "DATABASE_PREPARED_STATEMENTS",
        "LOG_FORMAT",
        "STATIC_ROOT",
    }
    clean = {k: v for k, v in os.environ.items() if k not in leave_out}
    return {**clean, **env}


def manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=process_env(env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_each_secret():
    for missing in ("DJANGO_SECRET_KEY", "FERNET_KEYS", "DATABASE_URL", "REDIS_URL"):
        env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
        result = manage("check", env=env)
        assert result.returncode != 0
        assert f"The environment variable {missing} must be set." in result.stderr


def test_production_leaves_the_sandbox_out():
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings; print('sandbox' in settings.INSTALLED_APPS)",
        env=PRODUCTION_ENV,
    )
    assert result.stdout.strip().splitlines()[-1] == "False", result.stderr


def test_production_keeps_database_connections_and_prepares_repeated_statements():
    show = (
        "import json; from django.conf import settings as s; d = s.DATABASES['default']; "
        "print(json.dumps([d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'], d.get('OPTIONS', {}), s.CELERY_DB_REUSE_MAX]))"
    )
    result = manage("shell", "-c", show, env=PRODUCTION_ENV)
    assert result.stdout.strip().splitlines()[-1] == (
        '[60, true, {"server_side_binding": true, "prepare_threshold": 5, '
        '"options": "-c plan_cache_mode=force_custom_plan"}, 100]'
    ), result.stderr
    # Behind a pooler that cannot keep prepared statements, one variable turns them off.
    result = manage("shell", "-c", show, env={**PRODUCTION_ENV, "DATABASE_PREPARED_STATEMENTS": "0"})
    assert result.stdout.strip().splitlines()[-1] == "[60, true, {}, 100]", result.stderr


def test_production_refuses_to_start_with_a_malformed_value():
    result = manage(
        "check",
        "--deploy",
        env={**PRODUCTION_ENV, "PORTAL_RATE_LIMITS": "withdrawal_submit.user=ten/60", "CELERY_WORKER_POOL": "thread"},
    )
    assert result.returncode != 0
    assert "broker_portal.E002" in result.stderr and "'ten/60'" in result.stderr, result.stderr
    assert "broker_portal.E009" in result.stderr, result.stderr
    # Text that is no number stops the settings themselves, naming the variable.
    result = manage("check", env={**PRODUCTION_ENV, "BALANCES_FILL_THREADS": "four"})
    assert result.returncode != 0
    assert "BALANCES_FILL_THREADS must be an integer, not 'four'." in result.stderr
