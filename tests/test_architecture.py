"""The layer rule of ``docs/architecture.md``, checked over the source with :mod:`ast`.

Four rules: an import goes only to a lower layer (or within its own
package); a name taken from another subpackage is one its ``__init__``
exports; modules import each other without a cycle; a module stays short.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent / "bidcrypt"

#: Each top-level module or subpackage of bidcrypt, with its rank: a module imports only lower ranks.
#: Peers share a rank and so cannot import each other. Keep in step with docs/architecture.md.
LAYERS: dict[str, int] = {
    "__main__": 100,
    "cli": 90,
    "bidcrypt": 85,  # the root package: its version and docstring
    "remote": 80,  # a peer of doctor
    "doctor": 80,
    "opening": 70,
    "package": 60,
    "envelope": 50,
    "seal": 50,
    "keys": 40,
    "clock": 36,
    "timestamp": 35,
    "trust": 34,
    "certs": 33,
    "uscc": 32,
    "x509_signatures": 30,
    "gm": 25,
    "files": 20,
    "_temporary": 19,
    "_platform": 18,
    "_lazy": 18,
    "_fork_server": 18,
    "aio": 18,
    "quiet": 18,
    "errors": 10,
    "i18n": 9,
    "_version": 5,
}
#: The subpackages whose public surface is their ``__init__``'s ``__all__``.
SUBPACKAGES = {"cli", "doctor", "envelope", "errors", "gm", "keys", "opening", "package", "remote", "seal"}
#: The longest a module may grow (the guide says "about 400 lines").
MAX_LINES = 420


@dataclass(frozen=True)
class Import:
    """One ``import`` of a bidcrypt module found in the source."""

    source: str  # the importing module, e.g. bidcrypt.opening.batch
    target: str  # the imported module, e.g. bidcrypt.envelope.unwrapping
    names: tuple[str, ...]  # the names taken from it (empty for ``import x``)
    line: int
    runtime: bool  # False inside ``if TYPE_CHECKING:``
    top_level: bool  # at module level (not inside a function)


def _module_name(path: Path) -> str:
    parts = ("bidcrypt", *path.relative_to(SOURCE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(SOURCE.rglob("*.py")):
        yield _module_name(path), path


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports_of(module: str, path: Path) -> Iterator[Import]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def visit(node: ast.AST, runtime: bool, top_level: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.startswith("bidcrypt"):
                        yield Import(module, alias.name, (), child.lineno, runtime, top_level)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.rsplit(".", child.level - 1)[0] if child.level > 1 else package
                    target = f"{base}.{child.module}" if child.module else base
                else:
                    target = child.module or ""
                if target.startswith("bidcrypt"):
                    names = []
                    for alias in child.names:  # ``from bidcrypt import _platform`` imports a module
                        submodule = f"{target}.{alias.name}"
                        if submodule in KNOWN:
                            yield Import(module, submodule, (), child.lineno, runtime, top_level)
                        else:
                            names.append(alias.name)
                    if names:
                        yield Import(module, target, tuple(names), child.lineno, runtime, top_level)
            elif isinstance(child, ast.If) and _is_type_checking(child):
                yield from visit(child, False, top_level)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                yield from visit(child, runtime, False)
            else:
                yield from visit(child, runtime, top_level)

    yield from visit(ast.parse(path.read_text(encoding="utf-8")), True, True)


KNOWN = {module for module, _ in _modules()}
ALL_IMPORTS = [found for module, path in _modules() for found in _imports_of(module, path)]


def _unit(module: str) -> str:
    """The layer unit of a module: its top-level module or subpackage (``bidcrypt`` for the root)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "bidcrypt"


def test_every_module_has_a_layer() -> None:
    units = {_unit(module) for module, _ in _modules()}
    assert units <= set(LAYERS), f"add to LAYERS and docs/architecture.md: {sorted(units - set(LAYERS))}"


def test_imports_go_only_to_lower_layers() -> None:
    wrong = []
    for found in ALL_IMPORTS:
        source, target = _unit(found.source), _unit(found.target)
        if source == target:
            continue  # within a package
        if LAYERS[target] >= LAYERS[source]:
            wrong.append(f"{found.source}:{found.line} imports {found.target}")
    assert wrong == []


def test_other_packages_take_only_exported_names() -> None:
    wrong = []
    for found in ALL_IMPORTS:
        target_unit = _unit(found.target)
        if target_unit not in SUBPACKAGES or _unit(found.source) == target_unit:
            continue
        package = importlib.import_module(f"bidcrypt.{target_unit}")
        exported = set(getattr(package, "__all__", ()))
        if not found.names and found.target == f"bidcrypt.{target_unit}":
            continue  # the package itself
        parent, _, last = found.target.rpartition(".")
        if not found.names and parent == f"bidcrypt.{target_unit}" and last in exported:
            continue  # ``from bidcrypt.package import pack``: the exported function, not the module
        private = any(part.startswith("_") for part in found.target.split(".")[2:])
        names = found.names or (found.target,)
        unexported = [name for name in names if name not in exported]
        if private or unexported:
            taken = unexported or found.target
            wrong.append(f"{found.source}:{found.line} takes {taken} from {found.target}")
    assert wrong == []


def test_modules_import_each_other_without_a_cycle() -> None:
    graph: dict[str, set[str]] = {}
    known = KNOWN
    for found in ALL_IMPORTS:
        if not found.runtime:
            continue
        targets = {found.target} | {f"{found.target}.{name}" for name in found.names}
        for target in targets & known:
            if target != found.source and not found.source.startswith(target + "."):
                graph.setdefault(found.source, set()).add(target)
    cycles = []
    state: dict[str, int] = {}

    def walk(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append(" → ".join([*trail[trail.index(target) :], target]))
            elif target not in state:
                walk(target, [*trail, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module, [module])
    # A package's __init__ importing its own modules, which import the package back, is no cycle of
    # responsibility; only cycles between two modules that are not __init__ files count.
    real = [cycle for cycle in cycles if not _only_through_inits(cycle, known)]
    assert real == []


def _only_through_inits(cycle: str, known: set[str]) -> bool:
    members = cycle.split(" → ")
    packages = {member for member in members if any(other.startswith(member + ".") for other in known)}
    return bool(packages)


@pytest.mark.parametrize("path", sorted(SOURCE.rglob("*.py")), ids=lambda p: str(p.relative_to(SOURCE)))
def test_a_module_stays_short(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.name} has {lines} lines: split it by responsibility"
