"""The example strategies repeat exactly: the same inputs give the same requests, in
processes whose string hashing differs (a set's order must never leak into a decision),
as a replay on a virtual clock needs."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bots.arbitrage import ArbitrageDesk
from bots.hedge_fund import HedgeFund
from bots.market_maker import MarketMaker
from exchange.config import load_config
from exchange.domain.house import HouseLiquidity
from exchange.domain.phases import AlwaysOpen
from exchange.domain.positions import Fill
from exchange.domain.runner import StrategyRunner
from exchange.domain.session import Executed, TradingSession
from exchange.domain.strategy import Action, News
from exchange.domain.types import Phase, Role, TeamId, TimeNs
from tests.bots.support import CHAIN, NOW, forecast, pricing, tracking

ROOT = Path(__file__).resolve().parents[2]
STEP_NS = 5 * 1_000_000_000


class Log:
    """Every request a team made, with its outcome, in order."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def executed(
        self, team_id: TeamId, action: Action, outcome: Executed | None, now: TimeNs
    ) -> None:
        status = None if outcome is None else outcome.result.status
        self.lines.append(f"{now} {team_id} {action!r} {status}")

    def filled(self, fills: Sequence[Fill]) -> None:
        self.lines.extend(f"fill {f!r}" for f in fills)


def play(steps: int = 120) -> list[str]:
    """A morning of the three example strategies and the house's underlying quotes."""
    config = load_config()
    session = TradingSession(
        CHAIN, config.constraints(), config.fees(), np.random.default_rng(9), Phase.CONTINUOUS
    )
    log = Log()
    runner = StrategyRunner(session, AlwaysOpen(), NOW, log)
    teams: list[tuple[str, Role, Any]] = [
        ("house", Role.HOUSE, HouseLiquidity()),
        ("maker", Role.MARKET_MAKER, MarketMaker()),
        ("fund", Role.HEDGE_FUND, HedgeFund(size=3, expiry=0)),  # what the maker quotes
        ("arb", Role.ARBITRAGE, ArbitrageDesk()),
    ]
    for name, role, strategy in teams:
        runner.add(TeamId(name), role, strategy)
    rng = np.random.default_rng(4)
    spx = 4400.0
    for n in range(1, steps + 1):
        now = TimeNs(NOW + n * STEP_NS)
        spx *= 1 + 0.001 * float(rng.standard_normal())
        spy = spx / 10 * (1 + 0.002 * float(rng.standard_normal()))
        runner.advance(now)
        if n % 20 == 5:
            runner.news(News(now, "Strong jobs report"))
        if n % 30 == 10:
            runner.signal(Role.HEDGE_FUND, forecast("medium", "high" if n % 60 else "low"))
        if n % 25 == 12:
            runner.signal(Role.ARBITRAGE, tracking((spy * 10 / spx - 1) * 100, spx, spy))
        runner.step(now, pricing({"SPX": spx, "SPY": spy}, now))
    return log.lines


def digest() -> str:
    return hashlib.sha256("\n".join(play()).encode()).hexdigest()


def test_the_example_strategies_trade_with_each_other() -> None:
    lines = play()
    for team in ("maker", "fund", "arb"):
        assert any(f"team_id='{team}'" in line for line in lines if line.startswith("fill"))


def test_the_same_game_gives_the_same_requests_whatever_the_hash_seed() -> None:
    code = "from tests.bots.test_determinism import digest; print(digest())"
    runs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        runs.add(done.stdout.strip())
    assert runs == {digest()}
