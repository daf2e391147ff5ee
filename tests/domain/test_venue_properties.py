"""The venue against a naive model, over random submits, cancels, quotes and phases.

The model keeps a plain list of resting orders and matches by sorting it: slow and
obviously right. After every step: the book is never crossed at rest outside the
gathering phase, every order's quantity is filled + remaining, submitted quantity equals
filled + resting + cancelled, the books hold exactly what the model holds, and the
ledger fed every trade has positions summing to zero and cash summing to the fees.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from exchange.domain.fees import DEFAULT_FEES
from exchange.domain.orders import NewQuote, Order, OrderResult, Trade
from exchange.domain.positions import Ledger
from exchange.domain.types import (
    InstrumentId,
    OrderStatus,
    Phase,
    Role,
    Side,
    TeamId,
    Ticks,
    TimeNs,
)
from exchange.domain.uncross import clearing_price

from .support import SPX, SPY, buy, cancel, make_venue, sell

TEAMS = ("a", "b", "c")
ROLES = (Role.MARKET_MAKER, Role.HEDGE_FUND, Role.RETAIL)
INSTRUMENTS = (SPX, SPY)
prices = st.integers(95, 105)
sizes = st.integers(1, 20)


@dataclass
class Model:
    resting: dict[int, tuple[str, InstrumentId, Side, int, int]] = field(default_factory=dict)
    """order id -> (team, instrument, side, price, remaining)."""

    def expected_fills(self, order: Order) -> list[tuple[int, int, int]]:
        """(resting id, price, qty) a continuous match of `order` should produce."""
        opposite = [
            (oid, r) for oid, r in self.resting.items()
            if r[1] == order.instrument_id and r[2] is not order.side
        ]  # fmt: skip
        sign = 1 if order.side is Side.BUY else -1
        opposite.sort(key=lambda e: (sign * e[1][3], e[0]))
        fills, left = [], order.quantity
        for oid, (_, _, _, price, qty) in opposite:
            if left == 0 or (order.price is not None and sign * (price - order.price) > 0):
                break
            take = min(left, qty)
            fills.append((oid, price, take))
            left -= take
        return fills


class VenueMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.venue = make_venue(Phase.CONTINUOUS, seed=3)
        self.model = Model()
        self.orders: dict[int, Order] = {}
        self.trades: list[Trade] = []
        self.now = 0
        self.ledger = Ledger(self.venue.instruments, DEFAULT_FEES)
        for team, role in zip(TEAMS, ROLES, strict=True):
            self.ledger.open_account(TeamId(team), role)
        self.booked = 0

    def tick(self) -> TimeNs:
        self.now += 1
        return TimeNs(self.now)

    def record(self, result: OrderResult) -> None:
        self.trades.extend(result.trades)
        if result.order is not None:
            self.orders[result.order.order_id] = result.order

    @precondition(lambda self: self.venue.phase in (Phase.CONTINUOUS, Phase.PRE_OPEN))
    @rule(team=st.sampled_from(TEAMS), inst=st.sampled_from(INSTRUMENTS),
          side=st.sampled_from(Side), qty=sizes, price=st.none() | prices)  # fmt: skip
    def submit(self, team: str, inst: str, side: Side, qty: int, price: int | None) -> None:
        request = (buy if side is Side.BUY else sell)(team, qty, price, inst)
        continuous = self.venue.phase is Phase.CONTINUOUS
        result = self.venue.submit_order(request, self.tick())
        if not result.accepted:
            assert price is None and not continuous  # market orders wait for the open
            return
        assert result.order is not None
        if continuous:
            expected = self.model.expected_fills(result.order)
            got = [
                (t.sell_order_id if side is Side.BUY else t.buy_order_id, t.price, t.quantity)
                for t in result.trades
            ]
            assert got == expected
        self.record(result)
        self.sync_model()

    @precondition(lambda self: self.venue.phase is Phase.CONTINUOUS)
    @rule(team=st.sampled_from(TEAMS), inst=st.sampled_from(INSTRUMENTS), bid=prices,
          spread=st.integers(1, 5), qty=sizes)  # fmt: skip
    def quote(self, team: str, inst: str, bid: int, spread: int, qty: int) -> None:
        q = NewQuote(TeamId(team), InstrumentId(inst), Ticks(bid * 100), qty,
                     Ticks((bid + spread) * 100), qty)  # fmt: skip
        result = self.venue.submit_quote(q, self.tick())
        assert result.accepted
        self.trades.extend(result.trades)
        for leg in (result.bid, result.ask):
            assert leg is not None
            self.orders[leg.order_id] = leg
        self.sync_model()

    @rule(data=st.data())
    def cancel_one(self, data: st.DataObject) -> None:
        if not self.model.resting:
            return
        oid = data.draw(st.sampled_from(sorted(self.model.resting)))
        team = self.model.resting[oid][0]
        result = self.venue.cancel_order(cancel(team, oid), self.tick())
        allowed = self.venue.phase in (Phase.CONTINUOUS, Phase.PRE_OPEN)
        assert result.accepted == allowed
        self.sync_model()

    @rule(team=st.sampled_from(TEAMS))
    def cancel_foreign(self, team: str) -> None:
        for oid, r in list(self.model.resting.items())[:1]:
            if r[0] != team:
                result = self.venue.cancel_order(cancel(team, oid), self.tick())
                assert not result.accepted
                assert oid in self.venue.books[r[1]]

    @rule(phase=st.sampled_from(Phase))
    def change_phase(self, phase: Phase) -> None:
        expected = {
            i: clearing_price(
                [(lv.price, lv.quantity) for lv in self.venue.books[i].levels(Side.BUY)],
                [(lv.price, lv.quantity) for lv in self.venue.books[i].levels(Side.SELL)],
            )
            for i in INSTRUMENTS
        }
        gathering = self.venue.phase is Phase.PRE_OPEN
        change = self.venue.set_phase(phase, self.tick())
        self.trades.extend(change.trades)
        if gathering and phase in (Phase.OPENING_AUCTION, Phase.CONTINUOUS):
            for i in INSTRUMENTS:
                volume = sum(t.quantity for t in change.trades if t.instrument_id == i)
                cleared = expected[i]
                assert volume == (cleared.volume if cleared is not None else 0)
                assert len({t.price for t in change.trades if t.instrument_id == i}) <= 1
        if phase is Phase.CLOSED:
            assert all(len(b) == 0 for b in self.venue.books.values())
        self.sync_model()

    def sync_model(self) -> None:
        """The model's resting set: every accepted order still live with quantity left."""
        self.model.resting = {
            o.order_id: (o.team_id, o.instrument_id, o.side, o.price, o.remaining)
            for o in self.orders.values()
            if o.is_live and o.remaining and o.price is not None
        }

    @invariant()
    def book_never_crossed_at_rest(self) -> None:
        if self.venue.phase is not Phase.PRE_OPEN:
            assert not any(b.is_crossed() for b in self.venue.books.values())

    @invariant()
    def quantity_is_conserved(self) -> None:
        submitted = filled = resting = cancelled = 0
        for o in self.orders.values():
            assert o.quantity == o.filled + o.remaining
            submitted += o.quantity
            filled += o.filled
            if o.status is OrderStatus.CANCELLED:
                cancelled += o.remaining
            elif o.is_live:
                resting += o.remaining
        assert submitted == filled + resting + cancelled
        assert filled == 2 * sum(t.quantity for t in self.trades)

    @invariant()
    def books_hold_exactly_the_live_orders(self) -> None:
        in_books = {oid for b in self.venue.books.values() for oid in b.orders}
        assert in_books == set(self.model.resting)
        for book in self.venue.books.values():
            for side in Side:
                assert book.quantity(side) == sum(o.remaining for o in book.resting_orders(side))
        for team in TEAMS:
            expected: dict[str, list[int]] = {}
            for t, inst, side, _, qty in self.model.resting.values():
                if t == team:
                    expected.setdefault(inst, [0, 0])[side is Side.SELL] += qty
            assert self.venue.open_exposure(TeamId(team)) == expected

    @invariant()
    def positions_sum_to_zero_and_cash_to_fees(self) -> None:
        for trade in self.trades[self.booked :]:
            self.ledger.apply(trade)
        self.booked = len(self.trades)
        assert all(q == 0 for q in self.ledger.net_positions().values())
        assert self.ledger.total_cash() == self.ledger.total_fees()
        bought = sum(t.quantity for t in self.trades if t.buyer == "a")
        sold = sum(t.quantity for t in self.trades if t.seller == "a")
        held = sum(self.ledger.account(TeamId("a")).positions.values())
        assert held == bought - sold


VenueMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestVenueMachine = VenueMachine.TestCase
