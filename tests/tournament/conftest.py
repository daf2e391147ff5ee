"""A small tournament's file, and a real local Dask cluster of 2 worker processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from exchange.tournament.run import connect


@pytest.fixture(scope="session")
def cluster() -> Iterator[object]:
    with connect(2, None) as client:
        yield client
