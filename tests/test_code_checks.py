"""bin/test runs the code checks configured in pyproject.toml, the type check covers every app's services and
selectors, and bin/commit-msg holds a commit message to CONTRIBUTING.md's rules."""

import subprocess
import tomllib
from pathlib import Path

import pytest
from django.conf import settings

PROJECT = Path(settings.BASE_DIR)
TYPED_ROLES = ("services", "selectors")


def role_modules() -> set[str]:
    """Every top-level package's services and selectors, each a module (``services.py``) or a package of them."""
    found = set()
    for package in PROJECT.iterdir():
        if not (package / "__init__.py").exists():
            continue
        for role in TYPED_ROLES:
            if (package / f"{role}.py").exists() or (package / role / "__init__.py").exists():
                found.add(f"{package.name}.{role}")
    return found


def test_mypy_checks_every_apps_services_and_selectors():
    checked = set(tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["mypy"]["packages"])
    assert role_modules() - checked == set(), "add these to [tool.mypy] packages in pyproject.toml"
    # mypy stops at a name that is no module: the list follows a move or a removal.
    assert checked - role_modules() == set()


def test_bin_test_runs_each_check_before_pytest_and_fails_on_it():
    lines = (PROJECT / "bin" / "test").read_text().splitlines()
    pytest_at = next(number for number, line in enumerate(lines) if "-m pytest" in line)
    for check in ("makemigrations --check", "ruff check ", "ruff format --check ", "mypy "):
        at = [number for number, line in enumerate(lines) if check in line and not line.lstrip().startswith("#")]
        assert at and at[0] < pytest_at, f"bin/test runs `{check.strip()}` before pytest"
        assert "|| { echo " in lines[at[0]] and "exit 1; }" in lines[at[0]], f"a finding of `{check.strip()}` fails"


def commit_msg(tmp_path, message: str) -> subprocess.CompletedProcess:
    (tmp_path / "COMMIT_EDITMSG").write_text(message, encoding="utf-8")
    return subprocess.run([PROJECT / "bin" / "commit-msg", tmp_path / "COMMIT_EDITMSG"], capture_output=True, text=True)


@pytest.mark.parametrize(
    "message",
    [
        "Payouts: a resolved payout is confirmed from the deposit history\n\nWhy it was needed.\n",
        "A subject alone\n",
        # 72 characters (76 bytes), and git's comment lines, which do not count.
        "Exports: a file’s rows are those the accountant’s filter chose, no more.\n\n# Please enter the message\n",
    ],
)
def test_a_commit_message_by_the_rules_passes(tmp_path, message):
    assert commit_msg(tmp_path, message).returncode == 0


@pytest.mark.parametrize(
    ("message", "said"),
    [
        ("Exports: a file’s rows are those the accountant’s filter chose, no others\n\nWhy.\n", "73 characters"),
        ("Trading: a subject\nand the body straight after it\n", "blank line"),
        ("# only git's comments\n\n", "no subject"),
    ],
)
def test_a_commit_message_against_the_rules_is_refused_with_the_reason(tmp_path, message, said):
    result = commit_msg(tmp_path, message)
    assert result.returncode == 1 and said in result.stderr
