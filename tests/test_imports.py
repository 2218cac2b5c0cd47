"""The one-way flow `cli, api -> qa -> index`, read from the source: no module imports from a layer above it."""

from __future__ import annotations

import ast

import pytest

from conftest import ROOT

# Each package and the packages it must never import from.
ABOVE = {"index": {"qa", "api", "cli"}, "qa": {"api", "cli"}}


def imported(path) -> set[str]:
    """The top-level packages a module imports, lazily inside functions too."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(ABOVE))
def test_no_import_runs_up_the_layers(package):
    wrong = {str(path.relative_to(ROOT)): sorted(imported(path) & ABOVE[package])
             for path in sorted((ROOT / package).rglob("*.py"))}
    assert {path: names for path, names in wrong.items() if names} == {}


def test_the_check_sees_an_upward_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from api.app import create_app\n")
    assert imported(module) == {"api"}
