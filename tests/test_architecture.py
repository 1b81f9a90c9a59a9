"""The rules the folders show: the framework names no connector and no app above it, and the
generic apps name no connector; each is read from the source, as a reviewer would check it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORK = ["connectors/specs.py", "connectors/registry.py", "connectors/checks.py", "connectors/options.py",
             "connectors/http.py", "connectors/ratelimit.py", "connectors/coercion.py", "connectors/functions.py",
             "connectors/core.py", "connectors/apps.py"]


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def production_modules(folder: str) -> list[Path]:
    return [p for p in sorted((ROOT / folder).glob("*.py"))]


def test_the_framework_imports_no_connector_and_no_app_above_it():
    for name in FRAMEWORK:
        for module in imported_modules(ROOT / name):
            assert not module.startswith(("connectors.qualtrics", "connectors.schedule", "connectors.webhook",
                                          "accounts", "designer", "catalog")), f"{name} imports {module}"


def test_the_generic_apps_name_no_connector():
    for folder in ("designer", "accounts"):
        for path in production_modules(folder):
            text = path.read_text()
            assert not re.search(r"qualtrics", text, re.IGNORECASE), f"{path.relative_to(ROOT)} names Qualtrics"
            for module in imported_modules(path):
                assert not module.startswith("connectors.") or module in (
                    "connectors.registry", "connectors.specs", "connectors.http", "connectors.functions",
                    "connectors.options", "connectors.coercion"), f"{path.relative_to(ROOT)} imports {module}"


def test_accounts_does_not_import_designer():
    for path in production_modules("accounts"):
        assert not any(m.startswith("designer") for m in imported_modules(path)), path.name


def test_designer_modules_import_each_other_one_way():
    """runs -> tasks is the only way between them at import time; tasks import what they run later."""
    graph = {}
    for path in production_modules("designer"):
        tree = ast.parse(path.read_text())
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        graph[path.stem] = {n.module.split(".")[1] for n in top
                            if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("designer.")}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = [name for name in graph if reaches(name, name, set())]
    assert cycles == []
