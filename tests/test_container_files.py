"""compose.yaml, the Dockerfile and .dockerignore agree with what the entry point and the production settings need,
and none of them holds a secret."""

import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings

PROJECT = Path(settings.BASE_DIR)
COMPOSE = yaml.safe_load((PROJECT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
PORTAL_SERVICES = ["migrate", "web", "worker", "beat"]
DOCKERFILE = (PROJECT / "Dockerfile").read_text()
INSTRUCTIONS = [
    line.strip()
    for line in re.sub(r"\\\n", " ", DOCKERFILE).splitlines()
    if line.strip() and not line.lstrip().startswith("#")
]
# What production refuses to start without (broker_portal/settings/production.py).
REQUIRED = re.findall(r'required_env\("([A-Z0-9_]+)"\)', (PROJECT / "broker_portal/settings/production.py").read_text())
SECRET_NAME = re.compile(r"SECRET|PASSWORD|FERNET|TOKEN|_KEY")
REQUIRED_FROM_OUTSIDE = re.compile(r"\$\{[A-Z0-9_]+:\?[^}]*\}")  # ${NAME:?message}: compose refuses to start without it


def roles_of_the_entrypoint() -> set[str]:
    script = (PROJECT / "bin/container-entrypoint").read_text()
    return set(re.findall(r"^\s+([a-z]+)\)\s", script, re.MULTILINE))


def test_compose_starts_every_part_of_the_portal():
    assert set(SERVICES) == {"postgres", "redis", *PORTAL_SERVICES}
    for name in PORTAL_SERVICES:
        assert SERVICES[name]["command"][0] == name and name in roles_of_the_entrypoint()
        assert SERVICES[name]["read_only"] is True and "portal-data:/var/lib/portal" in SERVICES[name]["volumes"]


def test_every_long_running_service_has_a_health_check_and_the_migrate_step_none():
    for name in ["postgres", "redis", "web", "worker", "beat"]:
        assert SERVICES[name]["healthcheck"]["test"], name
    assert "pg_isready" in SERVICES["postgres"]["healthcheck"]["test"][1]
    assert SERVICES["web"]["healthcheck"]["test"][1:] == ["bin/container-healthcheck", "web", "/readyz"]
    assert SERVICES["worker"]["healthcheck"]["test"][1:] == ["bin/container-healthcheck", "worker"]
    assert SERVICES["beat"]["healthcheck"]["test"][1:] == ["bin/container-healthcheck", "beat"]
    # The image's check (web's liveness) would otherwise run in the one-off migrate container too.
    assert SERVICES["migrate"]["healthcheck"] == {"disable": True}
    assert SERVICES["migrate"]["restart"] == "no"


def test_web_worker_and_beat_start_after_a_successful_migration_on_healthy_services():
    for name in ["web", "worker", "beat"]:
        assert SERVICES[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }, name
    assert SERVICES["migrate"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }


def test_beat_cannot_be_scaled_past_one():
    # Compose refuses --scale on a service with a fixed container name; web and worker scale.
    assert SERVICES["beat"]["container_name"]
    assert "container_name" not in SERVICES["web"] and "container_name" not in SERVICES["worker"]


def test_the_portal_services_get_every_variable_production_requires_from_outside():
    assert set(REQUIRED) == {"DJANGO_SECRET_KEY", "FERNET_KEYS", "DATABASE_URL", "REDIS_URL"}
    for name in PORTAL_SERVICES:
        environment = SERVICES[name]["environment"]
        assert set(REQUIRED) <= set(environment), name
        # ALLOWED_HOSTS has no production default: without it every request would be refused.
        for variable in ["DJANGO_SECRET_KEY", "FERNET_KEYS", "ALLOWED_HOSTS"]:
            assert REQUIRED_FROM_OUTSIDE.fullmatch(environment[variable]), variable
        assert re.fullmatch(
            r"postgres://portal:\$\{POSTGRES_PASSWORD:\?[^}]*\}@postgres:5432/portal", environment["DATABASE_URL"]
        )
        assert environment["REDIS_URL"] != environment["CELERY_BROKER_URL"]  # clearing the cache keeps the queue


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_no_service_holds_a_literal_secret(name):
    for variable, value in (SERVICES[name].get("environment") or {}).items():
        if SECRET_NAME.search(variable) or "://" in str(value) and "@" in str(value):
            # Either the whole value or its password comes from outside, and compose refuses to start without it.
            assert REQUIRED_FROM_OUTSIDE.search(str(value)), f"{name}: {variable}"


def test_images_are_pinned():
    for name in ["postgres", "redis"]:
        image = SERVICES[name]["image"]
        assert re.fullmatch(r"[a-z]+:\d+\.\d+(\.\d+)?-[a-z]+", image), image
    assert re.search(r"^FROM python:3\.11\.\d+-slim-[a-z]+$", DOCKERFILE, re.MULTILINE)


def test_the_image_runs_as_a_user_of_its_own_with_production_settings():
    users = [line.split()[1] for line in INSTRUCTIONS if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    environment = " ".join(line for line in INSTRUCTIONS if line.startswith("ENV "))
    assert "DJANGO_SETTINGS_MODULE=broker_portal.settings.production" in environment
    assert "PORTAL_VAR_DIR=/var/lib/portal" in environment and "XDG_RUNTIME_DIR=/tmp" in environment
    assert 'ENTRYPOINT ["bin/container-entrypoint"]' in INSTRUCTIONS and 'CMD ["web"]' in INSTRUCTIONS
    assert any(
        line.startswith("HEALTHCHECK ") and '"bin/container-healthcheck", "web", "/healthz"' in line
        for line in INSTRUCTIONS
    )


def test_the_image_has_no_secret_and_no_test_tools():
    for line in INSTRUCTIONS:
        if line.startswith(("ENV ", "ARG ")):
            assert not SECRET_NAME.search(line), line
            assert not any(variable in line for variable in REQUIRED), line
    installs = [line for line in INSTRUCTIONS if "pip install" in line]
    assert installs == ["RUN pip install --no-cache-dir -r requirements.txt"]
    # Static files are collected with settings that need nothing secret (broker_portal/settings/build.py).
    assert any(
        "DJANGO_SETTINGS_MODULE=broker_portal.settings.build python manage.py collectstatic" in line
        for line in INSTRUCTIONS
    )


def test_the_build_context_leaves_out_history_local_state_and_secrets():
    ignored = {
        line.strip()
        for line in (PROJECT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv/", "var/", "staticfiles/", ".env", "tests/"} <= ignored
    assert ".env" in (PROJECT / ".gitignore").read_text().splitlines()
