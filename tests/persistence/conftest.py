"""Fixtures for the persistence tests: a database file, and teams closed afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.persistence import Roster


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Where the test's server keeps its database (a real SQLite file)."""
    return tmp_path / "game.db"


@pytest.fixture
def enrol() -> Iterator[Roster]:
    """Registers teams on a server (`enrol(base, name, role)`); closes them afterwards."""
    roster = Roster()
    yield roster
    roster.close()
