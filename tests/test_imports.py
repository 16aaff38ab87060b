"""How the package's modules depend on each other: no import cycles, no argparse below the CLI."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "spacy_korsent"
CLI_MODULES = sorted(path.stem for path in (PACKAGE / "cli").glob("[!_]*.py"))
ENGINES_AND_LIBRARIES = (
    "cli/analysis.py", "cli/local_engine.py", "cli/ray_engine.py", "evaluation", "files",
    "integrations", "serving",
)  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module of the package that ``path`` imports, at the top or inside a function."""
    name = module_name(path)
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = f"{base}.{node.module}" if node.level and node.module else node.module or base
            if node.module:  # `from . import svg` imports the sibling module, not the package
                found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: imports(path) & set(modules) - {name} for name, path in modules.items()}


def cycles_through(start: str, edges: dict[str, set[str]]) -> list[str]:
    """Every import path from ``start`` back to itself (one per first step that closes it)."""
    found, stack, seen = [], [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for target in edges[node]:
            if target == start:
                found.append(" -> ".join([*path, start]))
            elif target not in seen:
                seen.add(target)
                stack.append((target, [*path, target]))
    return found


def test_no_import_cycle_anywhere_in_the_package() -> None:
    """A cycle hidden in a function's import (analyze <-> ray_engine) or under TYPE_CHECKING
    (components.classifier <-> components.factories) counts too."""
    edges = graph()
    assert [cycle for name in sorted(edges) for cycle in cycles_through(name, edges)] == []


@pytest.mark.parametrize("part", ["components", "inference", "integrations", "serving", "training"])
def test_the_library_imports_nothing_from_the_command_line(part: str) -> None:
    """``build_pipeline`` and its options live in the library: ``analyze_frame``, the Ray engine
    and the server use them without the command line's modules."""
    edges = graph()
    for name in sorted(edges):
        if name.startswith(f"spacy_korsent.{part}"):
            assert not {t for t in edges[name] if t.startswith("spacy_korsent.cli")}, name


@pytest.mark.parametrize("part", ENGINES_AND_LIBRARIES)
def test_engines_and_libraries_never_see_the_command_lines_options(part: str) -> None:
    path = PACKAGE / part
    for module in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
        source = module.read_text(encoding="utf-8")
        assert "argparse" not in source and "Namespace" not in source, module


@pytest.mark.parametrize("name", CLI_MODULES)
def test_each_command_line_module_imports_first_in_a_fresh_interpreter(name: str) -> None:
    code = f"import spacy_korsent.cli.{name}"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
