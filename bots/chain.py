"""What the example strategies share: reading the chain and the touch from a snapshot.

Pure functions of a `MarketSnapshot` and the listed instruments, with no clock and no
randomness, so a strategy built on them repeats exactly in a replay.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from exchange.domain.instruments import Instrument, parse_instrument_id
from exchange.domain.strategy import MarketSnapshot, Top
from exchange.domain.ticks import TICKS_PER_UNIT
from exchange.domain.types import NS_PER_SECOND, InstrumentId, OptionKind, Side, Ticks


class Listing:
    """The instruments a strategy knows: those `on_start` gave, plus any new weekly a
    snapshot shows (ids spell what an instrument is, so no lookup is needed)."""

    def __init__(self, instruments: Iterable[Instrument] = ()) -> None:
        self.by_id: dict[InstrumentId, Instrument] = {i.id: i for i in instruments}
        """Only ever grows (`learn`): its size tells whether `options` must look again."""
        self._options: dict[str, tuple[int, list[Instrument]]] = {}

    def learn(self, snapshot: MarketSnapshot) -> None:
        for instrument_id in sorted(snapshot.tops.keys() - self.by_id.keys()):
            try:
                self.by_id[instrument_id] = parse_instrument_id(instrument_id)
            except ValueError:
                continue  # not an id this code understands: leave it alone

    def options(self, underlying: str) -> list[Instrument]:
        """By id, so every run walks them in the same order (str hashes vary by process).
        Sorted once per listing, not at every snapshot: a copy, so callers may change it."""
        known = self._options.get(underlying)
        if known is None or known[0] != len(self.by_id):
            chosen = [i for i in self.by_id.values() if i.is_option and i.underlying == underlying]
            known = (len(self.by_id), sorted(chosen, key=lambda i: i.id))
            self._options[underlying] = known
        return list(known[1])

    def multiplier(self, instrument_id: InstrumentId) -> int:
        instrument = self.by_id.get(instrument_id)
        return 1 if instrument is None else instrument.multiplier


def today(now_ns: int) -> dt.date:
    return dt.datetime.fromtimestamp(now_ns / NS_PER_SECOND, dt.UTC).date()


def expiries(options: Iterable[Instrument], on_or_after: dt.date) -> list[dt.date]:
    """The listed expiry dates not yet past, nearest first."""
    return sorted({o.expiry for o in options if o.expiry is not None and o.expiry >= on_or_after})


def near_the_money(
    options: Iterable[Instrument], expiry: dt.date, spot: Ticks, count: int
) -> list[Instrument]:
    """Calls and puts of the `count` strikes nearest `spot` in one expiry, by id."""
    chosen = [o for o in options if o.expiry == expiry and o.strike is not None]
    strikes = sorted({o.strike for o in chosen if o.strike is not None},
                     key=lambda k: (abs(k - spot), k))[:count]  # fmt: skip
    return sorted((o for o in chosen if o.strike in strikes), key=lambda o: o.id)


def straddle(options: Iterable[Instrument], expiry: dt.date, spot: Ticks) -> list[Instrument]:
    """The call and the put at the strike nearest `spot`."""
    legs = near_the_money(options, expiry, spot, 1)
    kinds = {o.kind for o in legs}
    return legs if kinds == {OptionKind.CALL, OptionKind.PUT} else []


def mid(top: Top | None) -> Ticks | None:
    if top is None or top.bid is None or top.ask is None:
        return None
    return Ticks((top.bid + top.ask) // 2)


def spot_of(snapshot: MarketSnapshot, underlying: str) -> Ticks | None:
    """The underlying's simulated price, else its book's mid, else its last trade."""
    spot = snapshot.spots.get(underlying)
    if spot is not None:
        return Ticks(round(spot * TICKS_PER_UNIT))
    top = snapshot.tops.get(InstrumentId(underlying))
    return mid(top) or (None if top is None else top.last)


def touch(snapshot: MarketSnapshot, instrument_id: InstrumentId, side: Side) -> Ticks | None:
    """The price a marketable order on `side` trades at now: the best ask to buy, the
    best bid to sell; None when that side of the book is empty, or so far from fair
    value (a stale quote) that the exchange would refuse the price."""
    top = snapshot.tops.get(instrument_id)
    if top is None:
        return None
    price = top.ask if side is Side.BUY else top.bid
    if price is None or not in_band(snapshot, instrument_id, price):
        return None
    return price


def in_band(
    snapshot: MarketSnapshot, instrument_id: InstrumentId, price: Ticks, band_pct: float = 45.0
) -> bool:
    """Whether `price` is within `band_pct` of the fair value (at least 0.50 either way),
    inside the exchange's price band (50% by default), so it is not refused for its
    price. True where no fair value is known."""
    fair = snapshot.fair.get(instrument_id)
    if fair is None:
        return True
    return abs(price - fair) <= max(fair * band_pct / 100, 50)


def marketable(
    snapshot: MarketSnapshot, instrument_id: InstrumentId, side: Side, slippage: float
) -> Ticks | None:
    """A limit price that still trades if the touch moves against the order by up to
    `slippage` (a fraction of the price) before it arrives: it trades at the resting
    orders' prices, never worse than this. Kept inside the price band."""
    price = touch(snapshot, instrument_id, side)
    if price is None or slippage <= 0:
        return price
    worse = Ticks(price + side.sign * max(1, round(price * slippage)))
    return worse if worse >= 1 and in_band(snapshot, instrument_id, worse) else price


def value_of(snapshot: MarketSnapshot, instrument_id: InstrumentId) -> Ticks | None:
    """Fair value where the model gives one, else the book's mid."""
    fair = snapshot.fair.get(instrument_id)
    return fair if fair is not None else mid(snapshot.tops.get(instrument_id))


def clamp(quantity: int, position: int, limit: int) -> int:
    """The part of a signed `quantity` that keeps |position + quantity| within `limit`
    (never less than what reduces the position)."""
    if quantity > 0:
        return max(0, min(quantity, limit - position))
    if quantity < 0:
        return min(0, max(quantity, -limit - position))
    return 0


def positions_total(positions: Mapping[InstrumentId, int], listing: Listing) -> int:
    """Sum of |position| over options (the portfolio limit's measure)."""
    return sum(abs(q) for i, q in positions.items()
               if (o := listing.by_id.get(i)) is not None and o.is_option)  # fmt: skip
