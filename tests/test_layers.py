"""The apps' layers (pyproject.toml [tool.importlinter]) hold under pytest alone, as under bin/test."""

import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
# The root URLconf mounts every app's pages: the composition root, the one core module that imports upwards.
COMPOSITION_ROOT = "broker_portal.urls"


def apps_in_tree() -> set[str]:
    """The top-level packages besides the tests (bench/ is scripts, not a package)."""
    return {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests"}


def layered_apps() -> set[str]:
    contract = next(c for c in CONFIG["contracts"] if c["type"] == "layers")
    return {name.strip() for layer in contract["layers"] for name in layer.split("|")}


def test_the_import_contracts_are_kept():
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-logo", "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_app_has_its_layer_and_the_sandbox_none():
    assert layered_apps() == apps_in_tree() - {"sandbox"}
    assert set(CONFIG["root_packages"]) == apps_in_tree()


def test_the_core_imports_no_other_app():
    sys.path.insert(0, str(ROOT))
    try:
        graph = grimp.build_graph(*sorted(apps_in_tree()))
    finally:
        sys.path.remove(str(ROOT))
    upward = sorted(
        f"{importer} -> {imported}"
        for importer in graph.find_descendants("broker_portal") | {"broker_portal"}
        if importer != COMPOSITION_ROOT
        for imported in graph.find_modules_directly_imported_by(importer)
        if imported.split(".")[0] in apps_in_tree() - {"broker_portal"}
    )
    assert upward == []
