"""CI's dependency audit (bin/audit-deps, run by bin/test): a real finding fails it; a vulnerability database
that cannot be reached is said plainly and never reported as "no known vulnerabilities"."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def verdict(tmp_path, dependencies, code=1) -> str:
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"dependencies": dependencies, "fixes": []}))
    return subprocess.run(
        [sys.executable, str(ROOT / "bin/audit_report.py"), "requirements.txt", str(code), str(report)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_a_vulnerable_pin_is_a_finding(tmp_path):
    # pip-audit 2.x's JSON report (pip_audit/_format/json.py): name, version, vulns[id, fix_versions, ...].
    line = verdict(
        tmp_path,
        [
            {
                "name": "django",
                "version": "3.2.0",
                "vulns": [
                    {
                        "id": "PYSEC-2021-98",
                        "fix_versions": ["3.2.4"],
                        "aliases": ["CVE-2021-33203"],
                        "description": "...",
                    }
                ],
            },
            {"name": "requests", "version": "2.34.2", "vulns": []},
        ],
    )
    assert line.startswith("vulnerable ") and "django 3.2.0: PYSEC-2021-98 (fixed in 3.2.4)" in line


def test_packages_that_could_not_be_looked_up_are_not_called_clean(tmp_path):
    skipped = {"name": "django", "skip_reason": "Dependency not found on PyPI and could not be audited: django (3.2.0)"}
    assert verdict(tmp_path, [skipped], code=0).startswith("unreachable ")
    line = verdict(tmp_path, [skipped, {"name": "requests", "version": "2.34.2", "vulns": []}], code=0)
    assert line.startswith("partial ") and "NOT audited: django" in line
    assert verdict(tmp_path, [{"name": "requests", "version": "2.34.2", "vulns": []}], code=0).startswith("clean ")


def test_an_unreachable_database_is_said_and_does_not_fail_ci(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("Django==3.2.0\n")
    # A proxy that answers nothing: neither PyPI's JSON API (pip-audit's database) nor any other host is reached.
    env = {**os.environ, "HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}
    run = subprocess.run(
        [str(ROOT / "bin/audit-deps"), str(requirements)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "DEPENDENCY AUDIT NOT RUN" in run.stdout and "no known vulnerabilities" not in run.stdout.lower()
