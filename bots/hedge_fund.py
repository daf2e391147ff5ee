"""A hedge fund that trades the volatility forecast and keeps its delta near zero.

What it does:
- on a `volatility_forecast` that predicts a more volatile regime than the current one,
  buys `size` straddles (the call and the put at the strike nearest spot, in the
  `expiry`-th listed expiry: 0 is the nearest); on one that predicts a calmer regime,
  sells them. Two by default: an SPX contract is 100 units of SPX, so a bigger
  straddle's delta soon outgrows the 200 units of SPX the role may hold to hedge it.
  Orders are limits at the touch (the best ask to buy, the best bid to sell) plus
  `slippage` (a fraction of the price, a fifth of it for the hedge), so they trade at
  once against what the book shows even if it moved a little meanwhile;
- never leaves a bid and an ask resting in one instrument (the role's rule): before each
  order it cancels whatever it has resting in that instrument;
- stays within `max_option_position` per option and `max_total_position` in all options;
- each snapshot, sums its portfolio delta (position x delta x multiplier over the
  options, plus the underlyings held; SPY counted in SPX units by the spots' ratio) and,
  past `delta_threshold` either way, trades `underlying` back toward zero delta, within
  `max_underlying` units. A hedge is not sent again until it fills or
  `hedge_cooldown_seconds` of game time pass, so one in flight is not doubled.

Deterministic: no clock but the snapshot's, no randomness. Run it against the demo:

    python -m bots.hedge_fund --url http://127.0.0.1:8000
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from bots.chain import (
    Listing,
    clamp,
    expiries,
    marketable,
    positions_total,
    spot_of,
    straddle,
    today,
)
from bots.cli import run_strategy
from bots.hedging import Hedger, portfolio_delta
from exchange.domain.instruments import Instrument
from exchange.domain.orders import CancelAll, NewOrder
from exchange.domain.positions import Fill
from exchange.domain.strategy import Action, MarketSignal, MarketSnapshot, Strategy
from exchange.domain.types import InstrumentId, Phase, Role, Side, TeamId

REGIME_RANK = {"low": 0, "medium": 1, "high": 2}
MAX_ORDER = 500
"""The role's largest order (SPEC section 3)."""


def forecast_view(signal: MarketSignal) -> int:
    """+1 when the forecast is for more volatility, -1 for less, 0 otherwise."""
    if signal.kind != "volatility_forecast":
        return 0
    current = REGIME_RANK.get(str(signal.details.get("current_regime")))
    predicted = REGIME_RANK.get(str(signal.details.get("predicted_regime")))
    if current is None or predicted is None:
        return 0
    return (predicted > current) - (predicted < current)


class HedgeFund(Strategy):
    def __init__(
        self,
        *,
        underlying: str = "SPX",
        expiry: int = 1,
        size: int = 2,
        max_option_position: int = 150,
        max_total_position: int = 500,
        delta_threshold: float = 40.0,
        max_underlying: int = 200,
        hedge_cooldown_seconds: float = 60.0,
        slippage: float = 0.005,
    ) -> None:
        if size < 1 or expiry < 0 or delta_threshold <= 0:
            raise ValueError("size >= 1, expiry >= 0 and delta_threshold > 0, please")
        self.underlying, self.expiry, self.size = underlying, expiry, size
        self.max_option, self.max_total = max_option_position, max_total_position
        self.slippage = slippage
        self.new_hedger = functools.partial(
            Hedger, underlying, delta_threshold, max_underlying, MAX_ORDER,
            hedge_cooldown_seconds, slippage / 5,
        )  # fmt: skip
        self._reset()

    def _reset(self, instruments: Sequence[Instrument] = ()) -> None:
        self.listing = Listing(instruments)
        self.positions: dict[InstrumentId, int] = {}
        self.view = 0
        """A forecast not yet traded: +1 buy straddles, -1 sell them."""
        self.last: MarketSnapshot | None = None
        self.hedger = self.new_hedger()

    def on_start(self, team_id: TeamId, role: Role, instruments: Sequence[Instrument]) -> None:
        super().on_start(team_id, role, instruments)
        self._reset(instruments)

    def on_fill(self, fill: Fill) -> Sequence[Action]:
        self.positions[fill.instrument_id] = fill.position_after
        self.hedger.landed(fill)
        return ()

    def on_signal(self, signal: MarketSignal) -> Sequence[Action]:
        view = forecast_view(signal)
        if view == 0:
            return ()
        self.view = view
        last = self.last
        if last is None or last.phase is not Phase.CONTINUOUS:
            return ()  # traded at the next snapshot in continuous trading
        return self.trade_view(last)

    def on_market(self, snapshot: MarketSnapshot) -> Sequence[Action]:
        self.last = snapshot
        self.listing.learn(snapshot)
        if snapshot.phase is not Phase.CONTINUOUS:
            return ()
        out = list(self.trade_view(snapshot)) if self.view else []
        out.extend(self.hedger.orders(self.team_id, snapshot, self.positions, self.listing))
        return out

    def trade_view(self, snapshot: MarketSnapshot) -> list[Action]:
        """Buy (view +1) or sell (view -1) the straddle nearest the money."""
        spot = spot_of(snapshot, self.underlying)
        options = self.listing.options(self.underlying)
        dates = expiries(options, today(snapshot.now_ns))
        if spot is None or not dates:
            return []
        legs = straddle(options, dates[min(self.expiry, len(dates) - 1)], spot)
        side = Side.BUY if self.view > 0 else Side.SELL
        self.view = 0
        out: list[Action] = []
        room = self.max_total - positions_total(self.positions, self.listing)
        for leg in legs:
            position = self.positions.get(leg.id, 0)
            quantity = clamp(side.sign * self.size, position, self.max_option)
            added = abs(position + quantity) - abs(position)
            if added > room:
                quantity -= side.sign * (added - room)
            price = marketable(snapshot, leg.id, side, self.slippage)
            if quantity == 0 or price is None:
                continue
            room -= max(0, abs(position + quantity) - abs(position))
            out += [CancelAll(self.team_id, leg.id),
                    NewOrder(self.team_id, leg.id, side, abs(quantity), price)]  # fmt: skip
        return out

    def portfolio_delta(self, snapshot: MarketSnapshot) -> float | None:
        """Delta in units of the hedging underlying (SPY counted in SPX units)."""
        return portfolio_delta(snapshot, self.positions, self.listing, self.underlying)


def main(argv: Sequence[str] | None = None) -> int:
    return run_strategy("hedge_fund", HedgeFund, "hedge_fund", __doc__ or "", argv)


if __name__ == "__main__":
    raise SystemExit(main())
