"""The layer rule (docs/architecture.md) holds: `lint-imports` checks pyproject.toml's
contracts, and fails on an upward import or an import circle; and one name means one
class."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).parent / "lint-imports"


def lint(root: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    only = [arg for contract in contracts for arg in ("--contract", contract)]
    return subprocess.run(
        [str(LINT), "--no-cache", "--no-logo", *only, str(root / "pyproject.toml")],
        cwd=root, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(root), "PATH": str(LINT.parent)},
    )  # fmt: skip


def copy_of_the_sources(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "exchange", tmp_path / "exchange", ignore=shutil.ignore_patterns("*.pyc")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_imports_keep_the_layers() -> None:
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("domain/types.py", "import exchange.pipeline.queues", "layers"),  # upward
        ("store/db.py", "import exchange.web.game", "layers"),  # up two layers
        ("web/routes.py", "import exchange.app", "layers"),  # the web below the assembly
        ("domain/uncross.py", "import exchange.domain.book", "acyclic"),  # a circle
        ("pipeline/items.py", "import exchange.pipeline.publisher", "acyclic"),
        ("client/backoff.py", "import numpy", "client"),
        ("client/backoff.py", "import exchange.pipeline.queues", "client"),
    ],
)
def test_a_wrong_import_fails_the_check(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    root = copy_of_the_sources(tmp_path)
    assert lint(root, contract).returncode == 0
    path = root / "exchange" / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    done = lint(root, contract)
    assert done.returncode != 0, done.stdout
    assert "BROKEN" in done.stdout


def classes_by_name(root: Path) -> dict[str, list[str]]:
    """The package's module-level classes: each name with the modules defining it."""
    found: dict[str, list[str]] = {}
    for path in sorted((root / "exchange").rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef):
                found.setdefault(node.name, []).append(str(path.relative_to(root)))
    return found


def test_no_two_classes_share_a_name() -> None:
    shared = {name: where for name, where in classes_by_name(ROOT).items() if len(where) > 1}
    assert shared == {}


def test_a_second_class_of_a_name_is_found(tmp_path: Path) -> None:
    root = copy_of_the_sources(tmp_path)
    path = root / "exchange" / "web" / "http.py"
    path.write_text(path.read_text() + "\n\nclass Team:\n    pass\n")
    assert classes_by_name(root)["Team"] == ["exchange/teams.py", "exchange/web/http.py"]


def test_test_helpers_come_from_support_not_from_a_conftest() -> None:
    """Fixtures live in conftest.py files; helpers a test imports live in tests/support.py
    (or tests/server/harness.py), never in a conftest.py."""
    importing = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "tests").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("conftest")
    ]
    assert importing == []
