"""Delta hedging, shared by the example bots: a portfolio's delta in units of one
underlying, and the order that trades that underlying back toward zero delta.

Pure, like `bots.chain`: no clock but the snapshot's, no randomness.
"""

from __future__ import annotations

from collections.abc import Mapping

from bots.chain import Listing, clamp, marketable, spot_of
from exchange.domain.orders import CancelAll, NewOrder
from exchange.domain.positions import Fill
from exchange.domain.strategy import Action, MarketSnapshot
from exchange.domain.types import NS_PER_SECOND, InstrumentId, Side, TeamId


def portfolio_delta(
    snapshot: MarketSnapshot,
    positions: Mapping[InstrumentId, int],
    listing: Listing,
    underlying: str,
) -> float | None:
    """Delta in units of `underlying`: per underlying, position x delta x multiplier over
    its options plus the underlying itself, then scaled by spot to `underlying` (as the
    scores count it: SPY in SPX units). None while a spot it needs is unknown."""
    by_underlying: dict[str, float] = {}
    for instrument_id, position in positions.items():
        instrument = listing.by_id.get(instrument_id)
        if instrument is None or not position:
            continue
        if instrument.is_option:
            delta = snapshot.delta.get(instrument_id, 0.0) * instrument.multiplier
        else:
            delta = 1.0
        u = instrument.underlying
        by_underlying[u] = by_underlying.get(u, 0.0) + position * delta
    reference = spot_of(snapshot, underlying)
    total = 0.0
    for name in sorted(by_underlying):
        spot = spot_of(snapshot, name)
        if spot is None or reference is None:
            return None
        total += by_underlying[name] * spot / reference
    return total


class Hedger:
    """Trades `underlying` back toward zero delta once the portfolio's delta is past
    `threshold` either way, holding at most `max_units` of it, `max_order` at a time.
    A hedge is not sent again until it fills or `cooldown_seconds` of game time pass,
    so one in flight is not doubled; its limit price is the touch plus `slippage` (a
    fraction of the price), so it trades at once against what the book shows."""

    def __init__(
        self,
        underlying: str = "SPX",
        threshold: float = 40.0,
        max_units: int = 200,
        max_order: int = 500,
        cooldown_seconds: float = 60.0,
        slippage: float = 0.001,
    ) -> None:
        if threshold <= 0 or max_units < 0 or max_order < 1:
            raise ValueError("threshold > 0, max_units >= 0 and max_order >= 1, please")
        self.underlying = InstrumentId(underlying)
        self.threshold, self.max_units, self.max_order = threshold, max_units, max_order
        self.cooldown_ns = round(cooldown_seconds * NS_PER_SECOND)
        self.slippage = slippage
        self.sent_at: int | None = None

    def landed(self, fill: Fill) -> None:
        """A fill in the underlying: the hedge has landed, so look again at once."""
        if fill.instrument_id == self.underlying:
            self.sent_at = None

    def orders(
        self,
        team_id: TeamId,
        snapshot: MarketSnapshot,
        positions: Mapping[InstrumentId, int],
        listing: Listing,
    ) -> list[Action]:
        """The hedge to send now: cancel what rests in the underlying, then one order."""
        if self.sent_at is not None and snapshot.now_ns - self.sent_at < self.cooldown_ns:
            return []
        delta = portfolio_delta(snapshot, positions, listing, self.underlying)
        if delta is None or abs(delta) <= self.threshold:
            return []
        position = positions.get(self.underlying, 0)
        quantity = clamp(-round(delta), position, self.max_units)
        quantity = max(-self.max_order, min(self.max_order, quantity))
        side = Side.BUY if quantity > 0 else Side.SELL
        price = marketable(snapshot, self.underlying, side, self.slippage)
        if quantity == 0 or price is None:
            return []
        self.sent_at = snapshot.now_ns
        return [CancelAll(team_id, self.underlying),
                NewOrder(team_id, self.underlying, side, abs(quantity), price)]  # fmt: skip
