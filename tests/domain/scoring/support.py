"""A small game for scoring tests: a real Ledger and a Scorer fed the same trades.

`Game.trade` builds a real `Trade`, books it on the ledger and hands both fills to the
scorer, so every test also checks the scorer's mirror against the ledger.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Collection, Mapping

from exchange.domain.fees import DEFAULT_FEES
from exchange.domain.instruments import Instrument, make_option
from exchange.domain.orders import Trade
from exchange.domain.positions import Fill, Ledger
from exchange.domain.scoring import Scorer, ScoringConfig, check_invariants
from exchange.domain.types import (
    InstrumentId,
    OptionKind,
    OrderId,
    Role,
    Side,
    TeamId,
    Ticks,
    TimeNs,
    TradeId,
)

EXPIRY = dt.date(2026, 12, 4)
SPX = InstrumentId("SPX")
SPY = InstrumentId("SPY")
CALL = make_option("SPX", OptionKind.CALL, 440_000, EXPIRY)
PUT = make_option("SPX", OptionKind.PUT, 440_000, EXPIRY)
CALL_UP = make_option("SPX", OptionKind.CALL, 451_000, EXPIRY)
PUT_UP = make_option("SPX", OptionKind.PUT, 451_000, EXPIRY)
SPY_CALL = make_option("SPY", OptionKind.CALL, 44_000, EXPIRY)
OPTIONS = (CALL, PUT, CALL_UP, PUT_UP, SPY_CALL)
INSTRUMENTS = {
    SPX: Instrument(SPX, "SPX"),
    SPY: Instrument(SPY, "SPY"),
    **{o.id: o for o in OPTIONS},
}
OPTION_IDS = [o.id for o in OPTIONS]

HOUSE, RETAIL = TeamId("house"), TeamId("retail")
MM, MM2, HF, ARB = TeamId("mm"), TeamId("mm2"), TeamId("hf"), TeamId("arb")
TEAMS: dict[TeamId, tuple[str, Role]] = {
    HOUSE: ("House", Role.HOUSE),
    RETAIL: ("Retail", Role.RETAIL),
    MM: ("Alpha", Role.MARKET_MAKER),
    MM2: ("Bravo", Role.MARKET_MAKER),
    HF: ("Charlie", Role.HEDGE_FUND),
    ARB: ("Delta", Role.ARBITRAGE),
}
SPOTS = {"SPX": 4400.0, "SPY": 440.0}
SECOND = 1_000_000_000


class Game:
    """A ledger and a scorer side by side, with a game clock that moves one second a call."""

    def __init__(
        self,
        config: ScoringConfig | None = None,
        teams: Mapping[TeamId, tuple[str, Role]] = TEAMS,
    ) -> None:
        self.instruments = dict(INSTRUMENTS)
        self.ledger = Ledger(self.instruments, DEFAULT_FEES)
        self.scorer = Scorer(self.instruments, config or ScoringConfig())
        self.now = 0
        self._ids = itertools.count(1)
        for team_id, (name, role) in teams.items():
            self.ledger.open_account(team_id, role)
            self.scorer.add_team(team_id, name, role)

    def tick(self) -> TimeNs:
        self.now += SECOND
        return TimeNs(self.now)

    def trade(
        self,
        buyer: TeamId,
        seller: TeamId,
        qty: int,
        price: int,
        inst: InstrumentId = SPX,
        aggressor: Side | None = Side.BUY,
        mid: int | None = None,
    ) -> tuple[Fill, Fill]:
        """Book a trade on the ledger and feed both fills to the scorer."""
        n = next(self._ids)
        trade = Trade(
            TradeId(n), inst, Ticks(price), qty, buyer, seller, OrderId(2 * n),
            OrderId(2 * n + 1), 0, 0, aggressor, self.tick(),
        )  # fmt: skip
        fills = self.ledger.apply(trade)
        for fill in fills:
            self.scorer.on_fill(fill, None if mid is None else Ticks(mid))
        return fills

    def observe(
        self,
        marks: Mapping[InstrumentId, int] | None = None,
        deltas: Mapping[InstrumentId, float] | None = None,
        spots: Mapping[str, float] | None = None,
        quoted: Mapping[TeamId, Collection[InstrumentId]] | None = None,
    ) -> dict[TeamId, str]:
        return self.scorer.observe(
            self.tick(),
            {i: Ticks(m) for i, m in (marks or {}).items()},
            deltas if deltas is not None else dict.fromkeys(OPTION_IDS, 0.0),
            spots if spots is not None else SPOTS,
            quoted or {},
        )

    def assert_consistent(self) -> None:
        """The mirror equals the ledger and the invariants hold on both."""
        assert check_invariants(self.ledger) == []
        assert self.scorer.invariants() == []
        assert self.scorer.compare_with(self.ledger) == []
