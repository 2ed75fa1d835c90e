"""Each package's front door: its `__all__` is sorted and is exactly what its __init__ imports.

So an edge that writes `from digest.delivery import send_issue` can trust that the name is
meant to be used from outside, and a name added to a front door is added on purpose.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGES = [
    "digest.bounces",
    "digest.catalog",
    "digest.clicks",
    "digest.delivery",
    "digest.editors",
    "digest.issues",
    "digest.models",
    "digest.readers",
    "digest.render",
    "digest.stats",
    "digest.transports",
    "digest.web",
    "digest.webhooks",
]


def isort_style(name: str) -> tuple[int, str]:
    """The order ruff keeps `__all__` in: CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def imported_names(path: Path, package: str) -> set[str]:
    """Names the __init__ imports from its own modules (imports for its own use don't count)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(package)
        for alias in node.names
    }


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_exactly_the_re_exported_names(name: str) -> None:
    package = importlib.import_module(name)
    exported = list(package.__all__)
    assert exported == sorted(exported, key=isort_style), f"{name}.__all__ is not sorted"
    init = Path(package.__file__ or "")
    defined = {
        node.name
        for node in ast.parse(init.read_text(encoding="utf-8")).body
        if isinstance(node, ast.FunctionDef | ast.ClassDef)
    }
    assert set(exported) == imported_names(init, name) | defined
    for member in exported:
        assert hasattr(package, member), f"{name}.{member} is listed but missing"


@pytest.mark.parametrize("name", PACKAGES)
def test_every_package_says_what_it_holds(name: str) -> None:
    """The front door's docstring lists every module of the package."""
    package = importlib.import_module(name)
    doc = package.__doc__ or ""
    folder = Path(package.__file__ or "").parent
    modules = sorted(p.stem for p in folder.glob("*.py") if p.stem != "__init__")
    missing = [module for module in modules if f"{module}.py" not in doc]
    assert not missing, f"{name}'s docstring does not mention {missing}"
