"""A small tournament's file, and a real local Dask cluster of 2 worker processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange.tournament.run import connect

ROOT = Path(__file__).resolve().parents[2]
TEAMS = """\
teams:
  - {name: Alpha, role: market_maker, strategy: "bots.market_maker:MarketMaker(levels=2)"}
  - {name: Beta, role: market_maker, strategy: "bots.market_maker:MarketMaker(width=0.03)"}
  - {name: Gamma, role: hedge_fund, strategy: "bots.hedge_fund:HedgeFund"}
"""


def tournament_file(where: Path, fmt: str, teams: str = TEAMS, extra: str = "") -> Path:
    """3 teams, 4 seeded days of 5 minutes of continuous trading."""
    path = where / f"{fmt}.yaml"
    path.write_text(
        f"name: small-{fmt}\n"
        f"scenario: {ROOT / 'scenarios' / 'all-roles.yaml'}\n"
        'start: "2026-12-01T09:30:00-06:00"\n'
        "duration: 5m\n"
        "seeds: 4\n"
        f"format: {fmt}\n"
        "group_size: 2\n" + extra + teams
    )
    return path


@pytest.fixture(scope="session")
def cluster() -> Iterator[object]:
    with connect(2, None) as client:
        yield client
