"""How large the package's modules and functions are: the largest of each and the medians.

A design change should leave no module that must be read as a whole to change one thing; this
measures it. ``--before DIR`` prints the same figures for an earlier checkout beside today's.

    python benchmarks/code_size.py --before /path/to/earlier/checkout
"""

from __future__ import annotations

import argparse
import ast
import statistics
import sys
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]


def sizes(package: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Lines of every module (``{path: lines}``) and every function or method
    (``{module:qualified.name: lines}``, decorators and docstring included)."""
    modules, functions = {}, {}
    for path in sorted(package.rglob("*.py")):
        name = str(path.relative_to(package.parent))
        source = path.read_text(encoding="utf-8")
        modules[name] = len(source.splitlines())
        for qualified, node in _functions(ast.parse(source)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            functions[f"{name}:{qualified}"] = (node.end_lineno or node.lineno) - first + 1
    return modules, functions


def _functions(tree: ast.AST, prefix: str = "") -> list[tuple[str, ast.AST]]:
    found: list[tuple[str, ast.AST]] = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append((prefix + node.name, node))
            found += _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            found += _functions(node, f"{prefix}{node.name}.")
    return found


def summary(checkout: Path, top: int) -> list[str]:
    modules, functions = sizes(checkout / "spacy_korsent")
    lines = [
        f"{len(modules)} modules, {sum(modules.values()):,} lines; {len(functions)} functions, "
        f"median {statistics.median(functions.values()):.0f} lines, "
        f"{sum(n > 50 for n in functions.values())} over 50 lines",
        "",
        "| largest modules | lines | largest functions | lines |",
        "|---|---:|---|---:|",
    ]
    biggest_modules = sorted(modules.items(), key=lambda item: -item[1])[:top]
    biggest_functions = sorted(functions.items(), key=lambda item: -item[1])[:top]
    for (module, m_lines), (function, f_lines) in zip(biggest_modules, biggest_functions):
        lines.append(f"| {module} | {m_lines} | {function} | {f_lines} |")
    return lines


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="an earlier checkout, measured the same way")
    parser.add_argument("--top", type=int, default=10, help="how many of the largest to list")
    args = parser.parse_args(argv)
    for title, checkout in [("before", args.before), ("now", ROOT)]:
        if checkout is None:
            continue
        print(f"\n## {title}: {checkout}\n")
        print("\n".join(summary(checkout, args.top)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
