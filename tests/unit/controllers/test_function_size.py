"""The controller core stays readable: no function longer than 60 lines (complexity: ruff C901)."""

from __future__ import annotations

import ast
from pathlib import Path

import nylas_operator.controllers

MAX_LINES = 60
CORE = Path(nylas_operator.controllers.__file__).parent


def function_lengths(source: str) -> dict[str, int]:
    """Qualified name → lines from ``def`` (decorators excluded) to its last line."""
    out: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                out[name] = (child.end_lineno or child.lineno) - child.lineno + 1
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")

    visit(ast.parse(source), "")
    return out


def test_the_measure_counts_from_def_to_the_last_line() -> None:
    lengths = function_lengths(
        "def f():\n    x = 1\n\n    return x\n\nclass C:\n    def m(self):\n        pass\n"
    )
    assert lengths == {"f": 4, "C.m": 2}


def test_no_controller_function_is_longer_than_60_lines() -> None:
    too_long = {
        f"{path.name}:{name}": lines
        for path in sorted(CORE.glob("*.py"))
        for name, lines in function_lengths(path.read_text()).items()
        if lines > MAX_LINES
    }
    assert too_long == {}
