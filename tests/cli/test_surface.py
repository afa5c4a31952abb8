"""The public surface: what the packages' ``__init__`` export, and how the command line reaches it."""

from __future__ import annotations

import ast
import importlib
import re
import tomllib
from importlib import metadata

import pytest

from ..conftest import ROOT

PACKAGE = ROOT / "bidcrypt"
SUBPACKAGES = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))


@pytest.mark.parametrize("name", ["bidcrypt", *(f"bidcrypt.{p}" for p in SUBPACKAGES)])
def test_every_package_declares_what_it_exports(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported, f"{name} has no __all__"
    for attribute in exported:
        assert getattr(module, attribute) is not None


def test_the_command_line_imports_the_library_through_the_packages() -> None:
    """``from bidcrypt.envelope import X``, never ``from bidcrypt.envelope.transports import X``."""
    wrong = []
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bidcrypt."):
                parts = node.module.split(".")
                if len(parts) > 2 and parts[1] != "cli" and parts[1] in SUBPACKAGES:
                    wrong.append(f"{path.name}:{node.lineno} {node.module}")
    assert wrong == []


def _requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = {}
    for requirement in project["dependencies"]:
        name = re.split(r"[<>=!~ \[;]", requirement, maxsplit=1)[0]
        found[name.lower()] = requirement
    return found


def test_zero_versions_have_an_upper_bound() -> None:
    """A 0.x library may break its API in any minor release: each has a ceiling."""
    for requirement in _requirements().values():
        if re.search(r">=\s*0\.", requirement):
            assert re.search(r"<\s*0\.\d+", requirement), requirement


def test_the_installed_libraries_are_within_the_bounds() -> None:
    from packaging.requirements import Requirement

    for requirement in _requirements().values():
        parsed = Requirement(requirement)
        assert parsed.specifier.contains(metadata.version(parsed.name)), requirement


def test_pypdf_is_only_for_the_tests() -> None:
    assert "pypdf" not in _requirements()
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(r.startswith("pypdf") for r in extras["test"])
    for path in PACKAGE.rglob("*.py"):
        assert not re.search(r"^\s*(import|from)\s+pypdf", path.read_text(), re.M), path
