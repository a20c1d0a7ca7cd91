"""The README's Configuration table names every environment variable the settings read, with both defaults; every
setting the apps read is declared in the settings, none has a default only in code."""

import ast
import os
import re
from pathlib import Path

from django.conf import global_settings, settings

PROJECT = Path(settings.BASE_DIR)
# env("X"), env_bool("X", ...), env_int, env_list, required_env, os.environ.get / setdefault / ["X"], os.getenv.
READ = re.compile(
    r"""\b(?:env|env_bool|env_int|env_float|env_floats|env_list|required_env|os\.environ\.get"""
    r"""|os\.environ\.setdefault|os\.getenv)"""
    r"""\(\s*["']([A-Z][A-Z0-9_]*)["']|\bos\.environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""
)


def settings_sources() -> list[Path]:
    sources = sorted((PROJECT / "broker_portal" / "settings").glob("*.py"))
    gunicorn_config = PROJECT / "gunicorn.conf.py"
    return sources + [gunicorn_config] if gunicorn_config.exists() else sources


def variables_read(paths: list[Path]) -> dict[str, Path]:
    found = {}
    for path in paths:
        for match in READ.finditer(path.read_text()):
            found.setdefault(match.group(1) or match.group(2), path)
    return found


def configuration_table() -> list[list[str]]:
    readme = (PROJECT / "README.md").read_text()
    section = readme.split("\n## Configuration\n", 1)[1]
    section = re.split(r"\n##+ ", section, maxsplit=1)[0]
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("| `")
    ]


def documented() -> set[str]:
    return {name for row in configuration_table() for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row[0])}


def test_every_variable_the_settings_read_is_in_the_readme_table():
    read = variables_read(settings_sources())
    assert {"DJANGO_SECRET_KEY", "FERNET_KEYS", "DATABASE_URL", "REDIS_URL", "PORTAL_VAR_DIR"} <= set(read)
    missing = {name: str(path.relative_to(PROJECT)) for name, path in read.items() if name not in documented()}
    assert not missing, f"add these to README's Configuration table: {missing}"


def test_every_row_gives_a_meaning_and_both_defaults():
    rows = configuration_table()
    assert len(rows) >= 30
    for row in rows:
        assert len(row) == 4 and all(row), row  # variable | meaning | production | development


def project_files():
    """The project's own files: no virtualenv, caches, collected static files or tests."""
    for directory, subdirectories, files in os.walk(PROJECT):
        subdirectories[:] = [
            name
            for name in subdirectories
            if not name.startswith(".") and name not in {"tests", "staticfiles", "var", "__pycache__"}
        ]
        yield from (Path(directory) / name for name in files)


def test_the_table_documents_nothing_the_portal_no_longer_reads():
    code = [path for path in project_files() if path.suffix == ".py" or path.parent.name == "bin"]
    read_anywhere = set(variables_read(code))
    text = "\n".join(path.read_text(errors="replace") for path in code)
    # DJANGO_SETTINGS_MODULE is also read by Django itself; shell scripts read ${NAME}.
    stale = {
        name
        for name in documented()
        if name not in read_anywhere and f"${{{name}" not in text and name != "DJANGO_SETTINGS_MODULE"
    }
    assert not stale, f"nothing reads these any more: {stale}"


# The apps: every top-level package but the tests and the benchmarks; the settings modules read the environment.
APPS = sorted(path.parent for path in PROJECT.glob("*/__init__.py") if path.parent.name not in {"tests", "bench"})


def app_sources() -> list[Path]:
    return [
        path for app in APPS for path in app.rglob("*.py") if PROJECT / "broker_portal" / "settings" not in path.parents
    ]


def settings_reads(path: Path) -> tuple[set[str], list[int]]:
    """The settings ``path`` reads (``settings.X``, ``getattr(settings, "X")``), and the lines of each getattr of the
    settings that gives a default (one read by a name not written out fails where it is undeclared)."""
    names, defaulted = set(), []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "settings"
            and node.attr.isupper()
        ):
            names.add(node.attr)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and node.args
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id == "settings"
        ):
            if len(node.args) > 1 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
                names.add(node.args[1].value)
            if len(node.args) > 2:
                defaulted.append(node.lineno)
    return names, defaulted


def declared(path: Path) -> set[str]:
    """The settings a settings module assigns, at its top level or under a top-level ``if``."""
    names, body = set(), list(ast.parse(path.read_text()).body)
    while body:
        node = body.pop()
        if isinstance(node, ast.If):
            body += node.body + node.orelse
        for target in node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]:
            if isinstance(target, ast.Name) and target.id.isupper():
                names.add(target.id)
    return names


def reads_of(paths: list[Path]) -> dict[str, str]:
    found = {}
    for path in paths:
        for name in settings_reads(path)[0]:
            found.setdefault(name, str(path.relative_to(PROJECT)))
    return found


def test_no_app_reads_a_setting_with_a_default_of_its_own():
    defaulted = [f"{path.relative_to(PROJECT)}:{line}" for path in app_sources() for line in settings_reads(path)[1]]
    assert {"connectors", "withdrawals", "sandbox"} <= {app.name for app in APPS}
    assert not defaulted, f"declare these in broker_portal/settings/base.py and read settings.X: {defaulted}"


def test_every_setting_the_apps_read_is_declared_in_base_and_set_under_test():
    read = reads_of(app_sources())
    assert {"FERNET_KEYS", "PORTAL_RATE_LIMITS", "EXCHANGE_HTTP_TIMEOUT", "BALANCES_FRESH_SECONDS"} <= set(read)
    base = declared(PROJECT / "broker_portal" / "settings" / "base.py")
    undeclared = {
        name: where for name, where in read.items() if name not in base and not hasattr(global_settings, name)
    }
    assert not undeclared, f"declare these in broker_portal/settings/base.py: {undeclared}"
    unset = {name: where for name, where in read.items() if not hasattr(settings, name)}
    assert not unset, f"the test settings lack: {unset}"


def test_the_sandbox_as_its_own_service_declares_what_it_reads():
    read = reads_of(list((PROJECT / "sandbox").rglob("*.py")))
    own = declared(PROJECT / "sandbox" / "standalone_settings.py")
    missing = {name: where for name, where in read.items() if name not in own and not hasattr(global_settings, name)}
    assert {"SANDBOX_OKX_DOMAIN", "SANDBOX_PEATIO_REQUESTS_PER_WINDOW"} <= set(read)
    assert not missing, f"declare these in sandbox/standalone_settings.py: {missing}"


def test_a_default_in_code_is_found(tmp_path):
    source = tmp_path / "module.py"
    source.write_text(
        'from django.conf import settings\n\nX = getattr(settings, "PORTAL_NEW_THING", 5)\nY = settings.OTHER_THING\n'
    )
    assert settings_reads(source) == ({"PORTAL_NEW_THING", "OTHER_THING"}, [3])
