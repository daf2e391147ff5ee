"""The layer rule (docs/architecture.md) holds: `lint-imports` checks pyproject.toml's
contracts, and fails on an upward import or an import circle."""

from __future__ import annotations

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
