"""The synchronous whole: validation before matching, fees and positions after it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from exchange.config import load_config
from exchange.domain.instruments import build_chain
from exchange.domain.orders import CancelOrder, NewOrder, NewQuote
from exchange.domain.phases import AlwaysOpen, TradingDaySchedule, to_ns
from exchange.domain.positions import Fill
from exchange.domain.runner import StrategyRunner
from exchange.domain.session import TradingSession
from exchange.domain.strategy import Action, MarketSnapshot, Rejection, Strategy
from exchange.domain.types import (
    InstrumentId,
    Liquidity,
    OrderId,
    OrderStatus,
    OrderType,
    Phase,
    Role,
    Side,
    TeamId,
    TimeNs,
)

from .support import px

CONFIG = load_config()
TODAY = dt.date(2026, 11, 24)
CHAIN = build_chain(CONFIG.instruments, TODAY)
OPTION = next(i for i in CHAIN if i.is_option and i.strike == px(4400)).id
SPX = InstrumentId("SPX")
MM, HF, ARB = TeamId("mm"), TeamId("hf"), TeamId("arb")


def make_session(phase: Phase = Phase.CONTINUOUS) -> TradingSession:
    session = TradingSession(
        CHAIN, CONFIG.constraints(), CONFIG.fees(), np.random.default_rng(5), phase
    )
    session.register(MM, Role.MARKET_MAKER)
    session.register(HF, Role.HEDGE_FUND)
    session.register(ARB, Role.ARBITRAGE)
    return session


def order(team: TeamId, side: Side, qty: int, price: float | None, inst: str = OPTION) -> NewOrder:
    kind = OrderType.MARKET if price is None else OrderType.LIMIT
    return NewOrder(
        team, InstrumentId(inst), side, qty, None if price is None else px(price), kind
    )


def test_a_cross_between_two_teams_books_fees_and_positions() -> None:
    session = make_session()
    session.submit(order(MM, Side.SELL, 10, 50.0), TimeNs(1))
    executed = session.submit(order(HF, Side.BUY, 4, 51.0), TimeNs(2))
    buyer, seller = executed.fills
    assert (buyer.team_id, buyer.liquidity, buyer.fee_ticks) == (HF, Liquidity.TAKER, -8)
    assert (seller.team_id, seller.liquidity, seller.fee_ticks) == (MM, Liquidity.MAKER, 8)
    hf, mm = session.ledger.account(HF), session.ledger.account(MM)
    assert hf.positions[OPTION] == 4 and mm.positions[OPTION] == -4
    assert hf.cash_ticks == -4 * px(50) * 100 - 8
    assert mm.cash_ticks == 4 * px(50) * 100 + 8


def test_rejected_order_changes_nothing() -> None:
    session = make_session()
    executed = session.submit(order(HF, Side.BUY, 501, 50.0), TimeNs(1))
    assert executed.result.status is OrderStatus.REJECTED
    assert executed.result.error_code == "INVALID_QUANTITY"
    assert session.venue.open_orders(HF) == [] and executed.fills == []


def test_worst_case_counts_resting_orders_toward_the_position_limit() -> None:
    session = make_session()
    for n in range(5):
        assert session.submit(order(MM, Side.BUY, 10, 40.0 - n), TimeNs(n * 10**9)).result.accepted
    late = session.submit(order(MM, Side.BUY, 1, 30.0), TimeNs(9 * 10**9))
    assert late.result.error_code == "POSITION_LIMIT_EXCEEDED"
    assert session.submit(order(MM, Side.SELL, 10, 60.0), TimeNs(10 * 10**9)).result.accepted


def test_quote_replacing_itself_is_not_counted_twice() -> None:
    session = make_session()
    q = NewQuote(MM, OPTION, px(49), 50, px(51), 50)
    assert session.submit(q, TimeNs(1)).result.accepted
    again = session.submit(NewQuote(MM, OPTION, px(48), 50, px(52), 50), TimeNs(2 * 10**9))
    assert again.result.accepted, again.result.error_message


def test_hedge_fund_may_not_quote_two_sided_with_orders() -> None:
    session = make_session()
    assert session.submit(order(HF, Side.BUY, 5, 40.0), TimeNs(1)).result.accepted
    executed = session.submit(order(HF, Side.SELL, 5, 60.0), TimeNs(10**9))
    assert executed.result.error_code == "TWO_SIDED_NOT_ALLOWED"


def test_order_rate_is_a_sliding_one_second_window() -> None:
    session = make_session()
    codes = [
        session.submit(order(HF, Side.BUY, 1, 10.0 + n), TimeNs(10**6 * n)).result.error_code
        for n in range(6)
    ]
    assert codes == [None] * 5 + ["RATE_LIMIT_EXCEEDED"]
    later = session.submit(order(HF, Side.BUY, 1, 20.0), TimeNs(10**9 + 1))
    assert later.result.error_code is None


def test_unknown_team_is_refused() -> None:
    session = make_session()
    executed = session.submit(order(TeamId("ghost"), Side.BUY, 1, 10.0), TimeNs(1))
    assert executed.result.error_code == "UNAUTHORIZED"


def test_cash_sums_to_fees_and_positions_to_zero_over_a_random_day() -> None:
    session = make_session()
    rng = np.random.default_rng(11)
    teams = [MM, HF, ARB]
    for n in range(3000):
        team = teams[int(rng.integers(3))]
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        price = None if rng.random() < 0.1 else float(rng.integers(45, 56))
        session.submit(order(team, side, int(rng.integers(1, 6)), price), TimeNs(n * 10**8))
        if rng.random() < 0.2:
            session.cancel_all(team, TimeNs(n * 10**8))
    assert session.ledger.total_cash() == session.ledger.total_fees()
    assert all(q == 0 for q in session.ledger.net_positions().values())


class Quoter(Strategy):
    """Quotes the at-the-money call around 50 and leans against its inventory."""

    position = 0

    def on_market(self, snapshot: MarketSnapshot) -> Sequence[Action]:
        if snapshot.phase is not Phase.CONTINUOUS:
            return ()
        mid = 50.0 - 0.1 * self.position
        bid, ask = px(round(mid - 1, 2)), px(round(mid + 1, 2))
        return [NewQuote(self.team_id, OPTION, bid, 10, ask, 10)]

    def on_fill(self, fill: Fill) -> Sequence[Action]:
        self.position = fill.position_after
        return ()


class Taker(Strategy):
    """Lifts the offer every step, sells it back every other step."""

    def __init__(self) -> None:
        self.steps = 0
        self.fills: list[Fill] = []

    def on_market(self, snapshot: MarketSnapshot) -> Sequence[Action]:
        self.steps += 1
        if snapshot.phase is not Phase.CONTINUOUS or snapshot.tops[OPTION].ask is None:
            return ()
        side = Side.BUY if self.steps % 2 else Side.SELL
        return [NewOrder(self.team_id, OPTION, side, 2, None, OrderType.MARKET)]

    def on_fill(self, fill: Fill) -> Sequence[Action]:
        self.fills.append(fill)
        return ()


def test_in_process_strategies_trade_through_a_whole_day_on_a_virtual_clock() -> None:
    tz = ZoneInfo("America/Chicago")
    schedule = TradingDaySchedule(tz)
    start = TimeNs(to_ns(dt.datetime.combine(TODAY, dt.time(7, 0), tz)))
    session = TradingSession(
        CHAIN, CONFIG.constraints(), CONFIG.fees(), np.random.default_rng(5), Phase.CLOSED
    )
    runner = StrategyRunner(session, schedule, start)
    quoter, taker = Quoter(), Taker()
    runner.add(MM, Role.MARKET_MAKER, quoter)
    runner.add(HF, Role.HEDGE_FUND, taker)
    tick = 300 * 10**9
    for n in range(1, 100):
        runner.step(TimeNs(start + n * tick))
    assert session.venue.phase is Phase.CLOSED
    assert len(taker.fills) > 20
    assert quoter.position == session.ledger.account(MM).positions[OPTION]
    assert session.ledger.net_positions()[OPTION] == 0
    assert session.ledger.total_cash() == session.ledger.total_fees()
    assert session.venue.open_orders(MM) == []  # the close cancelled the quote


def test_a_strategy_cannot_act_for_another_team() -> None:
    class Impostor(Strategy):
        def on_market(self, snapshot: MarketSnapshot) -> Sequence[Action]:
            return [CancelOrder(MM, OrderId(1)), order(MM, Side.BUY, 1, 10.0)]

    session = make_session()
    runner = StrategyRunner(session, AlwaysOpen(), TimeNs(0))
    runner.add(TeamId("imp"), Role.ARBITRAGE, Impostor())
    runner.step(TimeNs(1))
    assert runner.requests == 0 and session.venue.open_orders(MM) == []


def test_a_strategy_hears_of_its_refusals_and_may_answer_them() -> None:
    class Eager(Strategy):
        """Asks for too much, then for what the refusal allows; cancels an unknown order."""

        def __init__(self) -> None:
            self.refusals: list[Rejection] = []

        def on_market(self, snapshot: MarketSnapshot) -> Sequence[Action]:
            return [
                order(self.team_id, Side.BUY, 5000, 10.0),
                CancelOrder(self.team_id, OrderId(999)),
            ]

        def on_reject(self, rejection: Rejection) -> Sequence[Action]:
            self.refusals.append(rejection)
            if rejection.code == "INVALID_QUANTITY":
                return [order(self.team_id, Side.BUY, 5, 10.0)]
            return ()

    session = make_session()
    runner = StrategyRunner(session, AlwaysOpen(), TimeNs(0))
    eager = Eager()
    runner.add(TeamId("eager"), Role.ARBITRAGE, eager)
    runner.step(TimeNs(7))
    codes = [(r.code, type(r.action).__name__, r.ts_ns) for r in eager.refusals]
    assert codes == [("INVALID_QUANTITY", "NewOrder", 7), ("ORDER_NOT_FOUND", "CancelOrder", 7)]
    assert all(r.message for r in eager.refusals)
    (resting,) = session.venue.open_orders(TeamId("eager"))
    assert (resting.quantity, resting.price) == (5, px(10.0))


@pytest.mark.parametrize("role", [Role.MARKET_MAKER, Role.HEDGE_FUND, Role.ARBITRAGE])
def test_roles_pay_their_taker_fee(role: Role) -> None:
    session = make_session()
    session.register(TeamId("x"), role)
    session.submit(order(MM, Side.SELL, 5, 50.0), TimeNs(1))
    executed = session.submit(order(TeamId("x"), Side.BUY, 5, None), TimeNs(2))
    expected = {Role.MARKET_MAKER: -5, Role.HEDGE_FUND: -10, Role.ARBITRAGE: -10}[role]
    assert executed.fills[0].fee_ticks == expected
