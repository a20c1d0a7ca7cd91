"""The README's Configuration table names every environment variable the settings read, with both defaults."""

import os
import re
from pathlib import Path

from django.conf import settings

PROJECT = Path(settings.BASE_DIR)
# env("X"), env_bool("X", ...), env_int, env_list, required_env, os.environ.get / setdefault / ["X"], os.getenv.
READ = re.compile(r"""\b(?:env|env_bool|env_int|env_list|required_env|os\.environ\.get|os\.environ\.setdefault|os\.getenv)"""
                  r"""\(\s*["']([A-Z][A-Z0-9_]*)["']|\bos\.environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]""")


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
    return [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in section.splitlines() if line.startswith("| `")]


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
        subdirectories[:] = [name for name in subdirectories
                             if not name.startswith(".") and name not in {"tests", "staticfiles", "var", "__pycache__"}]
        yield from (Path(directory) / name for name in files)


def test_the_table_documents_nothing_the_portal_no_longer_reads():
    code = [path for path in project_files() if path.suffix == ".py" or path.parent.name == "bin"]
    read_anywhere = set(variables_read(code))
    text = "\n".join(path.read_text(errors="replace") for path in code)
    # DJANGO_SETTINGS_MODULE is also read by Django itself; shell scripts read ${NAME}.
    stale = {name for name in documented() if name not in read_anywhere and f"${{{name}" not in text
             and name != "DJANGO_SETTINGS_MODULE"}
    assert not stale, f"nothing reads these any more: {stale}"
