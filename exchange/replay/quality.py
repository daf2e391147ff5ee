"""Market quality: did the day play like a market? Plain counts over plain data.

Both a replay (`exchange.replay.engine`) and a recorded game (`exchange.replay.dbreport`)
feed a `QualityTally` as the day goes, then `market_quality` turns it into the report section:

- retail orders drawn, sent, accepted, refused by code, and filled;
- trades per tick of the market model, over the ticks of continuous trading only, split
  into options and underlyings (continuous trades only: an auction print has no
  aggressor, so it is not counted);
- the share of listed options with a bid and an ask both resting, over every sample
  (one per listed option at each observation of continuous trading);
- the median spread, ask - bid, in price units and as a fraction of the mid, by
  moneyness: ATM within 1% of spot, else ITM or OTM by the option's kind and strike;
- each house team's marked P&L and inventory.

Memory stays flat whatever the day's length: spreads are kept as counts per value (ticks,
and tenths of a basis point of the mid), from which the medians are exact to that step.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

import msgspec

from exchange.domain.ticks import TICKS_PER_UNIT

ATM_BAND = 0.01
"""An option is at the money when its strike is within 1% of the spot."""
BUCKETS = ("ITM", "ATM", "OTM")
FRACTION_STEP = 100_000
"""Spreads as a fraction of the mid are counted in steps of 1/100000 (a tenth of a bp)."""


class OptionTop(NamedTuple):
    """One listed option at one moment: its kind, strike and best prices (ticks), and
    its underlying's spot (ticks, fractional)."""

    kind: str
    strike: int
    spot: float | None
    """None where no market is simulated: the option counts, but in no moneyness bucket."""
    bid: int | None
    ask: int | None


class RetailQuality(msgspec.Struct):
    teams: int
    drawn: int | None
    """Orders the retail strategies drew, before any were held back; None when unknown."""
    sent: int | None
    accepted: int
    refused: dict[str, int] | None
    """By error code; None when unknown (a database keeps no refused orders)."""
    refused_share: float | None
    filled: int
    """Accepted orders that traded at least once."""
    filled_contracts: int


class Trading(msgspec.Struct):
    tick_seconds: int
    continuous_ticks: int
    trades: dict[str, int]
    """Continuous trades: options, underlyings, all."""
    per_tick: dict[str, float | None]
    """The same per tick of continuous trading; None when there was none."""


class TwoSided(msgspec.Struct):
    samples: int
    two_sided: int
    share: float | None


class SpreadStats(msgspec.Struct):
    samples: int
    median: float | None
    """Price units (ask - bid)."""
    median_of_mid: float | None
    """(ask - bid) / mid."""


class HouseStanding(msgspec.Struct):
    name: str
    team_id: str
    pnl: float | None
    net_options: int
    gross_options: int
    underlyings: dict[str, int]


class MarketQuality(msgspec.Struct):
    retail: RetailQuality
    trading: Trading
    two_sided: TwoSided
    spreads: dict[str, SpreadStats]
    house: list[HouseStanding]


class RetailCounts:
    """What the retail teams sent and what came of it, counted as it happens."""

    def __init__(self) -> None:
        self.sent = 0
        self.accepted = 0
        self.refused: Counter[str] = Counter()
        self.filled_orders: set[int] = set()
        self.filled_contracts = 0

    def answered(self, error_code: str | None) -> None:
        self.sent += 1
        if error_code is None:
            self.accepted += 1
        else:
            self.refused[error_code] += 1

    def fill(self, order_id: int, quantity: int) -> None:
        self.filled_orders.add(order_id)
        self.filled_contracts += quantity


class QualityTally:
    """Trades and book samples of a day, as they come."""

    def __init__(self) -> None:
        self.trades: Counter[str] = Counter()
        self.samples = 0
        self.two_sided = 0
        self.spread_ticks: dict[str, Counter[int]] = {b: Counter() for b in BUCKETS}
        self.spread_fraction: dict[str, Counter[int]] = {b: Counter() for b in BUCKETS}

    def trade(self, is_option: bool) -> None:
        """One continuous trade (call it once per trade, not per side)."""
        self.trades["options" if is_option else "underlyings"] += 1

    def sample(self, tops: Iterable[OptionTop]) -> None:
        """Every listed option at one moment of continuous trading."""
        for top in tops:
            self.samples += 1
            if top.bid is None or top.ask is None:
                continue
            self.two_sided += 1
            if top.spot is None:
                continue
            bucket = moneyness(top.kind, top.strike, top.spot)
            self.spread_ticks[bucket][top.ask - top.bid] += 1
            mid = (top.ask + top.bid) / 2
            if mid > 0:
                fraction = round((top.ask - top.bid) / mid * FRACTION_STEP)
                self.spread_fraction[bucket][fraction] += 1


def moneyness(kind: str, strike: float, spot: float) -> str:
    """ATM within `ATM_BAND` of spot; else a call is ITM below spot, a put above."""
    if abs(strike - spot) <= ATM_BAND * spot:
        return "ATM"
    below = strike < spot
    return "ITM" if below == (kind == "CALL") else "OTM"


def median(counts: Mapping[int, int]) -> float | None:
    """The median of values given as value -> how many times; None for no values."""
    total = sum(counts.values())
    if total == 0:
        return None
    ordered = sorted(counts.items())
    lower = _nth(ordered, (total - 1) // 2)
    upper = _nth(ordered, total // 2)
    return (lower + upper) / 2


def _nth(ordered: list[tuple[int, int]], n: int) -> int:
    seen = 0
    for value, count in ordered:
        seen += count
        if n < seen:
            return value
    raise IndexError(n)


def continuous_ticks(
    is_continuous: Callable[[int], bool], start_ns: int, end_ns: int, tick_ns: int
) -> int:
    """Ticks of the market model (on its grid) starting in [start, end) while trading is
    continuous at their start."""
    first = -(-start_ns // tick_ns) * tick_ns
    return sum(1 for t in range(first, end_ns, tick_ns) if is_continuous(t))


def trading(tally: QualityTally, ticks: int, tick_seconds: int) -> Trading:
    trades = {
        "options": tally.trades["options"],
        "underlyings": tally.trades["underlyings"],
        "all": tally.trades["options"] + tally.trades["underlyings"],
    }
    per_tick = {k: (None if ticks == 0 else round(v / ticks, 4)) for k, v in trades.items()}
    return Trading(tick_seconds, ticks, trades, per_tick)


def two_sided(tally: QualityTally) -> TwoSided:
    share = None if tally.samples == 0 else round(tally.two_sided / tally.samples, 4)
    return TwoSided(tally.samples, tally.two_sided, share)


def spreads(tally: QualityTally) -> dict[str, SpreadStats]:
    out = {}
    for bucket in BUCKETS:
        ticks, fraction = median(tally.spread_ticks[bucket]), median(tally.spread_fraction[bucket])
        out[bucket] = SpreadStats(
            sum(tally.spread_ticks[bucket].values()),
            None if ticks is None else round(ticks / TICKS_PER_UNIT, 4),
            None if fraction is None else round(fraction / FRACTION_STEP, 5),
        )
    return out


def retail(teams: int, drawn: int | None, counts: RetailCounts) -> RetailQuality:
    share = None if counts.sent == 0 else round(sum(counts.refused.values()) / counts.sent, 4)
    return RetailQuality(
        teams, drawn, counts.sent, counts.accepted, dict(sorted(counts.refused.items())),
        share, len(counts.filled_orders), counts.filled_contracts,
    )  # fmt: skip


def accepted_only(teams: int, accepted: int, filled: int, contracts: int) -> RetailQuality:
    """What a database tells: the accepted orders; what was drawn or refused is unknown."""
    return RetailQuality(teams, None, None, accepted, None, None, filled, contracts)


def inventory(
    name: str, team_id: str, pnl: float | None, positions: Mapping[str, int], options: set[str]
) -> HouseStanding:
    """A team's net and gross option contracts and its underlying positions."""
    held = {i: q for i, q in positions.items() if q}
    net = sum(q for i, q in held.items() if i in options)
    gross = sum(abs(q) for i, q in held.items() if i in options)
    underlyings = {i: q for i, q in sorted(held.items()) if i not in options}
    return HouseStanding(name, team_id, None if pnl is None else round(pnl, 2), net, gross,
                     underlyings)  # fmt: skip


def market_quality(
    retail_part: RetailQuality, tally: QualityTally, ticks: int, tick_seconds: int,
    house: list[HouseStanding],
) -> MarketQuality:  # fmt: skip
    return MarketQuality(
        retail_part, trading(tally, ticks, tick_seconds), two_sided(tally), spreads(tally),
        house,
    )  # fmt: skip


def summary(q: MarketQuality) -> list[str]:
    """A few lines for people: the headline figures of the section."""
    r, t, s = q.retail, q.trading, q.two_sided
    refused = "unknown" if r.refused is None else (", ".join(
        f"{code} {n}" for code, n in r.refused.items()) or "none")  # fmt: skip
    lines = [
        f"  market quality ({t.continuous_ticks} continuous ticks of {t.tick_seconds} s):",
        f"    retail ({r.teams} teams): drawn {_or(r.drawn)}, sent {_or(r.sent)}, "
        f"accepted {r.accepted}, filled {r.filled}; refused: {refused}",
        f"    trades per tick: options {_or(t.per_tick['options'])}, underlyings "
        f"{_or(t.per_tick['underlyings'])}; options two-sided {_share(s.share)} "
        f"of {s.samples} samples",
        "    median spread: " + ", ".join(
            f"{b} {_or(v.median)} ({_share(v.median_of_mid)} of mid)"
            for b, v in q.spreads.items()),
    ]  # fmt: skip
    lines += [
        f"    {h.name}: P&L {_or(h.pnl)}, options net {h.net_options} gross "
        f"{h.gross_options}, underlyings {h.underlyings or '{}'}"
        for h in q.house
    ]
    return lines


def _or(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}"


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"
