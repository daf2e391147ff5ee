"""Expiry through a running exchange: settlement at intrinsic value, the next weekly
listed, and the invariants holding across it (SPEC sections 2, 6 and 7)."""

from __future__ import annotations

import asyncio
import datetime as dt

from exchange.app import Exchange
from exchange.config import load_config
from exchange.domain.instruments import intrinsic_value
from exchange.domain.orders import NewOrder
from exchange.domain.ticks import round_to_tick
from exchange.domain.types import OrderType, Role, Side, Ticks
from tests.server.harness import InProcess


def expiring_soon() -> Exchange:
    """The demo market a game minute before the first weekly's settlement (its close)."""
    return Exchange(
        load_config(
            preset="demo",
            overrides={
                "clock": {"start": "2026-12-04T23:50:50-06:00", "speed": 60},
                "market": {"house_options_maker": False, "retail": False},
            },
        )
    )


async def wait_for(probe, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not probe():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_an_expiring_weekly_settles_at_intrinsic_and_the_next_is_listed() -> None:
    ex = expiring_soon()
    first = min(i.expiry for i in ex.venue.instruments.values() if i.expiry is not None)
    option = next(
        i for i in ex.venue.instruments.values()
        if i.expiry == first and i.underlying == "SPX" and i.kind == "CALL" and i.strike == 396000
    )  # fmt: skip
    await ex.start()
    try:
        buyer, _ = await ex.register("expiry buyer", Role.HEDGE_FUND)
        seller, _ = await ex.register("expiry seller", Role.MARKET_MAKER)
        assert ex.market is not None
        sell = InProcess(seller.team_id, ex.orders)
        buy = InProcess(buyer.team_id, ex.orders)
        fair = ex.venue.reference_price.get(option.id) or Ticks(40000)
        assert await sell.send(NewOrder(seller.team_id, option.id, Side.SELL, 3, fair))
        assert await buy.send(
            NewOrder(buyer.team_id, option.id, Side.BUY, 3, None, OrderType.MARKET)
        )
        ledger = ex.session.ledger
        await wait_for(lambda: ledger.account(buyer.team_id).positions.get(option.id) == 3)
        cash_before = ledger.account(buyer.team_id).cash_ticks
        await wait_for(lambda: option.id not in ex.venue.instruments, timeout=15)
        spot = round_to_tick(ex.market.cache.spots(ex.market.expiry_ns(first))["SPX"])
        value = intrinsic_value(option, spot)
        account = ledger.account(buyer.team_id)
        assert option.id not in account.positions
        assert account.cash_ticks == cash_before + 3 * value * 100
        expiries = sorted({i.expiry for i in ex.venue.instruments.values() if i.expiry})
        assert first not in expiries and expiries[-1] == first + dt.timedelta(weeks=4)
        assert option.id not in ex.matchers
        assert all(q == 0 for q in ledger.net_positions().values())
        assert ledger.total_cash() == ledger.total_fees()
    finally:
        await ex.stop()
