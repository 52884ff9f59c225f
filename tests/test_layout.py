"""The package layout: modules by concept, and no module reaching into another's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "engine"
PACKAGES = ("data", "language", "policy", "engines", "run", "output", "service")
TOP_LEVEL = {"__init__.py", "cli.py", "errors.py", "messages.py"}


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


def _private_reaches(path: Path) -> list[str]:
    """Cross-module uses of private names in one source file."""
    return private_reaches(path.read_text(encoding="utf-8"), _module(path), path.name)


def private_reaches(text: str, me: str, name: str) -> list[str]:
    """``from engine.x import _name`` and ``x._name`` (``x`` an imported engine module) in module ``me``, not ``engine.x``."""
    tree = ast.parse(text)
    found: list[str] = []
    modules: dict[str, str] = {}  # local name -> the engine module or name it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("engine"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__") and node.module != me:
                    found.append(f"{name}:{node.lineno} from {node.module} import {alias.name}")
                modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("engine") and alias.asname:
                    modules[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                and node.attr.startswith("_") and not node.attr.startswith("__")
                and modules[node.value.id] != me):
            found.append(f"{name}:{node.lineno} {node.value.id}.{node.attr}")
    return found


def test_top_level_holds_only_the_shared_modules() -> None:
    loose = {p.name for p in SRC.glob("*.py")} - TOP_LEVEL
    assert not loose, f"modules outside a concept package: {sorted(loose)}"
    assert {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()} == set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_says_what_it_holds(package: str) -> None:
    doc = ast.get_docstring(ast.parse((SRC / package / "__init__.py").read_text(encoding="utf-8")))
    assert doc and len(doc) > 20, f"engine.{package} has no docstring"


def test_no_module_reaches_into_another_modules_private_names() -> None:
    found = [hit for path in _sources() for hit in _private_reaches(path)]
    assert not found, "private names used across modules:\n" + "\n".join(found)


def test_the_private_reach_check_finds_both_forms() -> None:
    text = ("from engine.data.loaders import _record_type, load_dataset\n"
            "import engine.run.stream as s\n"
            "from engine.engines import vectorised as v\n"
            "s._chunks\nv._fixed\nv.money_text\n")
    assert private_reaches(text, "engine.output.render", "probe.py") == [
        "probe.py:1 from engine.data.loaders import _record_type", "probe.py:4 s._chunks", "probe.py:5 v._fixed"]
    # a module's own private names are its business
    assert private_reaches("from engine.data.loaders import _record_type\n", "engine.data.loaders", "x.py") == []
