"""Builders for the store tests: teams, seeded random trades booked by a real Ledger."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping

from exchange.domain.fees import DEFAULT_FEES, FeeSchedule
from exchange.domain.instruments import Instrument, make_option
from exchange.domain.orders import Order, Trade
from exchange.domain.positions import Fill, Ledger
from exchange.domain.types import (
    InstrumentId,
    OptionKind,
    OrderId,
    OrderStatus,
    OrderType,
    Role,
    Side,
    TeamId,
    Ticks,
    TimeNs,
    TradeId,
)
from exchange.store.rows import Batch, team_row
from exchange.teams import Team, Teams

SPX = InstrumentId("SPX")
CALL = make_option("SPX", OptionKind.CALL, 440_000, dt.date(2026, 12, 4))
PUT = make_option("SPX", OptionKind.PUT, 430_000, dt.date(2026, 12, 11))
INSTRUMENTS: dict[InstrumentId, Instrument] = {
    SPX: Instrument(SPX, "SPX"),
    CALL.id: CALL,
    PUT.id: PUT,
}
T0 = 1_795_000_000_000_000_000  # 2026-11-18, game time in ns
ORDER_BASE = 1_000_000
"""Order ids of random trades start here, clear of the orders a test writes itself."""
ROLES = (Role.HOUSE, Role.MARKET_MAKER, Role.HEDGE_FUND, Role.ARBITRAGE, Role.RETAIL)


def make_teams() -> list[Team]:
    """One team per role, registered as the server does (random key, stored hashed)."""
    teams = Teams()
    return [teams.register(f"team {role.value}", role)[0] for role in ROLES]


def new_ledger(teams: list[Team], fees: Mapping[Role, FeeSchedule] = DEFAULT_FEES) -> Ledger:
    ledger = Ledger(INSTRUMENTS, fees)
    for team in teams:
        ledger.open_account(team.team_id, team.role)
    return ledger


def random_trades(teams: list[Team], count: int, seed: int) -> list[Trade]:
    """Seeded trades across instruments, with self-trades and auction prints mixed in."""
    rng = random.Random(seed)
    ids = list(INSTRUMENTS)
    trades = []
    for n in range(1, count + 1):
        buyer = rng.choice(teams).team_id
        seller = buyer if rng.random() < 0.05 else rng.choice(teams).team_id
        iid = rng.choice(ids)
        base = 440_000 if iid == SPX else 1_500
        buy_id, sell_id = OrderId(ORDER_BASE + 2 * n), OrderId(ORDER_BASE + 2 * n + 1)
        trades.append(
            Trade(
                TradeId(n), iid, Ticks(base + rng.randint(-900, 900)), rng.randint(1, 50),
                buyer, seller, buy_id, sell_id, rng.randint(0, 20), rng.randint(0, 20),
                rng.choice((Side.BUY, Side.SELL, None)), TimeNs(T0 + n),
            )
        )  # fmt: skip
    return trades


def book(ledger: Ledger, trades: list[Trade]) -> list[tuple[Trade, Fill, Fill]]:
    return [(t, *ledger.apply(t)) for t in trades]


def batch_of(
    teams: list[Team], booked: list[tuple[Trade, Fill, Fill]], created_ns: int = T0
) -> Batch:
    batch = Batch(teams=[team_row(t, created_ns) for t in teams])
    for trade, buy, sell in booked:
        batch.add_trade(trade, buy, sell)
    return batch


def order(
    order_id: int,
    team: str = "T0001",
    quantity: int = 10,
    price: int | None = 440_000,
    side: Side = Side.BUY,
    status: OrderStatus = OrderStatus.NEW,
) -> Order:
    kind = OrderType.MARKET if price is None else OrderType.LIMIT
    ticks = None if price is None else Ticks(price)
    return Order(
        OrderId(order_id), TeamId(team), SPX, side, kind, quantity, ticks,
        TimeNs(T0 + order_id), f"c{order_id}", 0, quantity, status,
    )  # fmt: skip
