"""The whole exchange as one synchronous object: validate, match, book the trades.

`TradingSession` runs the same steps as the server's pipeline (validator -> matcher ->
publisher) in one call, for in-process bots, replays and tests. The server's tasks call
the same pieces (`build_context`, the validator, the venue, the ledger) one queue apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import msgspec
import numpy as np

from exchange.domain.constraint_config import ConstraintConfig, OrderRate, PortfolioLimit
from exchange.domain.constraints import ConstraintBasedOrderValidator
from exchange.domain.exposure import build_context, working_exposure
from exchange.domain.fees import FeeSchedule
from exchange.domain.instruments import Instrument
from exchange.domain.orders import (
    CancelOrder,
    NewOrder,
    NewQuote,
    Order,
    OrderCancelled,
    OrderResult,
    QuoteResult,
    Trade,
    rejected,
)
from exchange.domain.phases import Schedule
from exchange.domain.positions import Fill, Ledger
from exchange.domain.ratelimit import SlidingWindow
from exchange.domain.types import OrderId, OrderStatus, Phase, Role, TeamId, TimeNs
from exchange.domain.validation import OrderRefusal
from exchange.domain.venue import ExchangeVenue, PhaseChanged

UNLIMITED_RATE = 1_000_000


class Executed(msgspec.Struct, gc=False):
    """A request's outcome and the fills it booked (two per trade: buyer, seller)."""

    result: OrderResult | QuoteResult
    fills: list[Fill]


class TradingSession:
    def __init__(
        self,
        instruments: Iterable[Instrument],
        constraints: Mapping[Role, Sequence[ConstraintConfig]],
        fees: Mapping[Role, FeeSchedule],
        rng: np.random.Generator,
        phase: Phase = Phase.CONTINUOUS,
    ) -> None:
        self.venue = ExchangeVenue(instruments, rng, phase)
        self.ledger = Ledger(self.venue.instruments, fees)
        self.validator = ConstraintBasedOrderValidator(constraints)
        self._rate_limits = {role: _rate_limit(c) for role, c in constraints.items()}
        self._portfolio_roles = {
            role
            for role, c in constraints.items()
            if any(isinstance(x, PortfolioLimit) for x in c)
        }
        self._free_roles = {role for role in Role if not constraints.get(role)}
        """Roles with no rule at all (the house): nothing to check, nothing to count."""
        self.roles: dict[TeamId, Role] = {}
        self.windows: dict[TeamId, SlidingWindow] = {}

    def register(self, team_id: TeamId, role: Role) -> None:
        self.ledger.open_account(team_id, role)
        self.roles[team_id] = role
        self.windows[team_id] = SlidingWindow(self._rate_limits.get(role, UNLIMITED_RATE))

    def submit(self, request: NewOrder | NewQuote, now: TimeNs) -> Executed:
        """Validate, then match; nothing changes when the answer is a rejection."""
        if request.team_id not in self.roles:
            return Executed(rejected("UNAUTHORIZED", "unknown team"), [])
        rejection = self.screen(request, now)
        if rejection is not None:
            return Executed(_rejected(request, rejection), [])
        if isinstance(request, NewQuote):
            result: OrderResult | QuoteResult = self.venue.submit_quote(request, now)
        else:
            result = self.venue.submit_order(request, now)
        return Executed(result, self.book(result.trades))

    def screen(
        self,
        request: NewOrder | NewQuote,
        now: TimeNs,
        pending: Sequence[Order] = (),
        pending_quote: tuple[OrderId, ...] = (),
        rate_now: int | None = None,
    ) -> OrderRefusal | None:
        """Everything that may refuse a request before it reaches a book, first the venue's
        own soundness checks (listed instrument, phase, price), then the role's rules."""
        venue = self.venue
        problem = (
            venue.check_quote(request)
            if isinstance(request, NewQuote)
            else venue.check_order(request)
        )
        if problem is not None:
            code, message = problem.error_code or "INVALID_FIELD", problem.error_message or ""
            return OrderRefusal(code, message, "venue")
        return self.check(request, now, pending, pending_quote, rate_now)

    def check(
        self,
        request: NewOrder | NewQuote,
        now: TimeNs,
        pending: Sequence[Order] = (),
        pending_quote: tuple[OrderId, ...] = (),
        rate_now: int | None = None,
    ) -> OrderRefusal | None:
        """Run the team's constraints; count the request against its rate window.

        `pending` are the team's orders accepted but not yet in a book (the server's
        pipeline has them queued); they count toward the worst case like resting ones.
        `pending_quote` names a queued quote's legs that this quote would replace.
        `rate_now` is the time the rate window counts in (game time when not given).
        """
        team = request.team_id
        if self.roles[team] in self._free_roles:
            return None
        window = self.windows[team]
        replacing: list[Order] = []
        if isinstance(request, NewQuote):
            ids = self.venue.quote_ids(team, request.instrument_id) + pending_quote
            live = {o.order_id: o for o in pending}
            for order_id in ids:
                leg = self.venue.order(team, order_id) or live.get(order_id)
                if leg is not None:
                    replacing.append(leg)
        context = build_context(
            request,
            role=self.roles[team],
            phase=self.venue.phase,
            now_ns=now,
            instruments=self.venue.instruments,
            account=self.ledger.account(team),
            opened=working_exposure(self.venue.open_exposure(team), pending, replacing),
            orders_in_window=window.count(rate_now if rate_now is not None else now),
            reference_price=self.venue.reference_price.get(request.instrument_id),
            portfolio=self.roles[team] in self._portfolio_roles,
        )
        rejection = self.validator.validate(context)
        if rejection is None or rejection.constraint != "order_rate":
            window.record(rate_now if rate_now is not None else now)
        return rejection

    def cancel(self, request: CancelOrder, now: TimeNs) -> OrderResult:
        return self.venue.cancel_order(request, now)

    def cancel_all(self, team_id: TeamId, now: TimeNs) -> list[OrderCancelled]:
        return self.venue.cancel_all(team_id, now)

    def set_phase(self, phase: Phase, now: TimeNs) -> tuple[PhaseChanged, list[Fill]]:
        change = self.venue.set_phase(phase, now)
        return change, self.book(change.trades)

    def follow(
        self, schedule: Schedule, since: TimeNs, now: TimeNs
    ) -> list[tuple[PhaseChanged, list[Fill]]]:
        changes = self.venue.follow(schedule, since, now)
        return [(change, self.book(change.trades)) for change in changes]

    def book(self, trades: list[Trade]) -> list[Fill]:
        """Apply trades to the ledger: positions, cash, fees."""
        fills: list[Fill] = []
        for trade in trades:
            fills.extend(self.ledger.apply(trade))
        return fills


def _rate_limit(constraints: Sequence[ConstraintConfig]) -> int:
    limits = [c.max_per_second for c in constraints if isinstance(c, OrderRate)]
    return min(limits, default=UNLIMITED_RATE)


def _rejected(request: NewOrder | NewQuote, rejection: OrderRefusal) -> OrderResult | QuoteResult:
    if isinstance(request, NewQuote):
        return QuoteResult(
            OrderStatus.REJECTED, error_code=rejection.code, error_message=rejection.message
        )
    return rejected(rejection.code, rejection.message)
