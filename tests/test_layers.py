"""The layers hold: read from the imports of every module (with `ast`), so a wrong import fails here, not in review.

- the driver (pymongo, bson) is imported only in fhir_server/storage/;
- the engine does not import the HTTP, page or OAuth layers;
- no module imports another package's private (`_x`) names;
- no two modules import each other, directly or round a longer cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("fhir_server", "adapters", "profiles", "terminology")
DRIVER = ("pymongo", "bson")
ABOVE_ENGINE = ("fhir_server.rest", "fhir_server.pages", "fhir_server.oauth")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(module: str, path: Path) -> Iterator[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for each import of `module`, relative ones resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, [alias.name for alias in node.names], node.lineno


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _top(module: str) -> str:
    """The package a module belongs to, for the private-name rule: `fhir_server.storage`, `adapters.hl7v2`, ..."""
    parts = module.split(".")
    return ".".join(parts[:2]) if (ROOT.joinpath(*parts[:2])).is_dir() else parts[0]


def test_the_driver_is_imported_only_in_storage() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for module, path in MODULES.items()
        if not _within(module, "fhir_server.storage")
        for name, _names, line in _imports(module, path)
        if any(_within(name, driver) for driver in DRIVER)
    ]
    assert not wrong, wrong


def test_the_engine_does_not_import_the_layers_above_it() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for module, path in MODULES.items()
        if _within(module, "fhir_server.engine")
        for name, _names, line in _imports(module, path)
        if any(_within(name, above) for above in ABOVE_ENGINE)
    ]
    assert not wrong, wrong


GETTEXT = ("_", "_n")
"""The catalog's functions (fhir_server.i18n), named as gettext's are, not private names."""


def test_no_private_name_is_imported_from_another_package() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} takes {taken} from {name}"
        for module, path in MODULES.items()
        for name, names, line in _imports(module, path)
        if name in MODULES and _top(name) != _top(module)
        for taken in names
        if taken.startswith("_") and taken not in GETTEXT and not taken.startswith("__")
    ]
    assert not wrong, wrong


def _graph() -> dict[str, set[str]]:
    """Which project modules each module imports (a `from package import module` counts as the module)."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        targets: set[str] = set()
        for name, names, _line in _imports(module, path):
            for taken in names:
                if f"{name}.{taken}" in MODULES:
                    targets.add(f"{name}.{taken}")
            if name in MODULES and not (MODULES[name].name == "__init__.py" and names):
                targets.add(name)
        graph[module] = targets - {module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each a cycle of imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_round_a_cycle() -> None:
    """Any cycle of imports among the application packages (TYPE_CHECKING imports included) fails."""
    assert _cycles(_graph()) == []
