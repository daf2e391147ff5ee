"""An arbitrage desk that trades SPY against SPX on the tracking-error signal.

What it does:
- on a `tracking_error` signal with SPY rich (above SPX/10: `error_pct` > 0), sells SPY
  and buys SPX; with SPY cheap, the reverse. The SPX leg is `spx_units`; the SPY leg is
  sized to the same value (`spx_units` x SPX / SPY, about 10 SPY per SPX), so the desk's
  SPX and SPY exposure stay balanced (the role is scored past a 2:1 imbalance);
- reads the error from the simulated prices every snapshot and unwinds both legs once it
  has closed to within `exit_pct` (or crossed), or after `max_hold_seconds` of game time;
- trades toward its targets until it reaches them: a leg that did not fill in full is
  topped up (and a leg that drifted from the other's value resized) at the next snapshot,
  at most once per `cooldown_seconds` of game time, so orders in flight are not doubled.

The error's sign, which the signal carries, says which way SPY should move back (every
part of the error reverts); the signal's `direction` is the model's guess, right 80% of
the time, so it is not needed here. Orders are limits at the touch plus `slippage` (a
fraction of the price); before each, the desk cancels what it has resting in that
instrument. Deterministic: no clock but the snapshot's, no randomness. Run it against
the demo:

    python -m bots.arbitrage --url http://127.0.0.1:8000
"""

from __future__ import annotations

from collections.abc import Sequence

from bots.chain import marketable, spot_of
from bots.cli import run_strategy
from exchange.domain.instruments import Instrument
from exchange.domain.orders import CancelAll, NewOrder
from exchange.domain.positions import Fill
from exchange.domain.strategy import Action, MarketSignal, MarketSnapshot, Strategy
from exchange.domain.types import NS_PER_SECOND, InstrumentId, Phase, Role, Side, TeamId

SPX, SPY = InstrumentId("SPX"), InstrumentId("SPY")
MAX_ORDER = 500
"""The role's largest order (SPEC section 3)."""


class ArbitrageDesk(Strategy):
    def __init__(
        self,
        *,
        spx_units: int = 2,
        ratio: float = 10.0,
        exit_pct: float = 0.03,
        max_hold_seconds: float = 1800.0,
        cooldown_seconds: float = 60.0,
        tolerance: float = 0.1,
        slippage: float = 0.001,
    ) -> None:
        if spx_units < 1 or ratio <= 0 or tolerance < 0:
            raise ValueError("spx_units >= 1, ratio > 0 and tolerance >= 0, please")
        self.spx_units, self.ratio, self.exit_pct = spx_units, ratio, exit_pct
        self.max_hold_ns = round(max_hold_seconds * NS_PER_SECOND)
        self.cooldown_ns = round(cooldown_seconds * NS_PER_SECOND)
        self.tolerance, self.slippage = tolerance, slippage
        self._reset()

    def _reset(self) -> None:
        self.positions: dict[InstrumentId, int] = {}
        self.view = 0
        """-1: SPY rich (short SPY, long SPX); +1: SPY cheap (long SPY, short SPX); 0: flat."""
        self.entered_ns = 0
        self.traded_ns: int | None = None
        self.last: MarketSnapshot | None = None

    def on_start(self, team_id: TeamId, role: Role, instruments: Sequence[Instrument]) -> None:
        super().on_start(team_id, role, instruments)
        self._reset()

    def on_fill(self, fill: Fill) -> Sequence[Action]:
        self.positions[fill.instrument_id] = fill.position_after
        return ()

    def on_signal(self, signal: MarketSignal) -> Sequence[Action]:
        if signal.kind != "tracking_error":
            return ()
        error = signal.details.get("error_pct")
        if not isinstance(error, int | float) or error == 0:
            return ()
        self.view = -1 if error > 0 else 1
        self.entered_ns = signal.ts_ns
        last = self.last
        if last is None or last.phase is not Phase.CONTINUOUS:
            return ()
        return self.rebalance(last, signal.ts_ns, force=True)

    def on_market(self, snapshot: MarketSnapshot) -> Sequence[Action]:
        self.last = snapshot
        if snapshot.phase is not Phase.CONTINUOUS:
            return ()
        if self.view and self.closed(snapshot):
            self.view = 0
        return self.rebalance(snapshot, snapshot.now_ns)

    def error_pct(self, snapshot: MarketSnapshot) -> float | None:
        """SPY against SPX / ratio, in percent, from the simulated prices."""
        spx, spy = spot_of(snapshot, SPX), spot_of(snapshot, SPY)
        if not spx or not spy:
            return None
        return (spy * self.ratio / spx - 1.0) * 100.0

    def closed(self, snapshot: MarketSnapshot) -> bool:
        """The trade is done: the error came back within `exit_pct`, or time ran out."""
        if snapshot.now_ns - self.entered_ns > self.max_hold_ns:
            return True
        error = self.error_pct(snapshot)
        return error is not None and -self.view * error <= self.exit_pct

    def targets(self, snapshot: MarketSnapshot) -> dict[InstrumentId, int] | None:
        """Positions wanted in SPX and SPY, of equal value and opposite signs."""
        if self.view == 0:
            return {SPX: 0, SPY: 0}
        spx, spy = spot_of(snapshot, SPX), spot_of(snapshot, SPY)
        if not spx or not spy:
            return None
        spy_units = max(1, round(self.spx_units * spx / spy))
        return {SPX: -self.view * self.spx_units, SPY: self.view * spy_units}

    def rebalance(self, snapshot: MarketSnapshot, now: int, force: bool = False) -> list[Action]:
        """Orders that move each leg to its target (SPX first: the SPY leg follows it)."""
        if not force and self.traded_ns is not None and now - self.traded_ns < self.cooldown_ns:
            return []
        targets = self.targets(snapshot)
        if targets is None:
            return []
        out: list[Action] = []
        for instrument_id, target in targets.items():
            gap = target - self.positions.get(instrument_id, 0)
            slack = round(abs(target) * self.tolerance)
            if gap == 0 or abs(gap) <= slack:
                continue
            side = Side.BUY if gap > 0 else Side.SELL
            price = marketable(snapshot, instrument_id, side, self.slippage)
            if price is None:
                continue
            quantity = min(abs(gap), MAX_ORDER)
            out += [CancelAll(self.team_id, instrument_id),
                    NewOrder(self.team_id, instrument_id, side, quantity, price)]  # fmt: skip
        if out:
            self.traded_ns = now
        return out


def main(argv: Sequence[str] | None = None) -> int:
    return run_strategy("arbitrage", ArbitrageDesk, "arbitrage", __doc__ or "", argv)


if __name__ == "__main__":
    raise SystemExit(main())
