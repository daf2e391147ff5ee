"""The market data task: conflated tops of book, with fair values and greeks.

Every interval it takes what the simulator published (PriceQueue) into the
`MarketCache`, prices the whole option chain at the present second's spots and the
regime's volatility in one vectorised call, sets each instrument's reference price (the
price band's and the auction's), and sends `market_data` for the instruments whose book
changed, or whose fair value moved by a tick or more since it was last sent (at most
once per `refresh` seconds per instrument), so no client is flooded.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

import msgspec
import numpy as np

from exchange.clock import Clock
from exchange.domain.instruments import Instrument
from exchange.domain.market.simulator import TickOutcome
from exchange.domain.pricing import NS_PER_YEAR, Greeks, chain_greeks, implied_vol
from exchange.domain.ticks import TICKS_PER_UNIT, round_to_tick
from exchange.domain.types import NS_PER_SECOND, InstrumentId, Phase, Side, Ticks
from exchange.domain.venue import ExchangeVenue
from exchange.pipeline.fanout import Fanout
from exchange.pipeline.history import MarketHistory
from exchange.pipeline.simulator import MarketCache
from exchange.store import rows
from exchange.wire import views
from exchange.wire.messages import MarketData

PRICE_ROWS_EVERY = 1.0
"""Wall seconds between the underlyings' price rows in the database (downsampled)."""


class MarketDataPublisher:
    def __init__(
        self,
        venue: ExchangeVenue,
        fanout: Fanout,
        clock: Clock,
        cache: MarketCache | None,
        prices: asyncio.Queue[tuple[TickOutcome, int]] | None,
        expiry_ns: Callable[[Any], int],
        refresh: float = 1.0,
        save_row: Callable[[str, tuple[Any, ...]], None] | None = None,
        top_rows_every: int = 300,
        history: MarketHistory | None = None,
    ) -> None:
        self.venue = venue
        self.fanout = fanout
        self.clock = clock
        self.cache = cache
        self.prices = prices
        self.expiry_ns = expiry_ns
        self.refresh = refresh
        self.save_row = save_row
        self.options: list[Instrument] = [i for i in venue.instruments.values() if i.is_option]
        self.greeks: dict[InstrumentId, tuple[float, float, float]] = {}
        """(delta, gamma, vega) of each option at the last repricing."""
        self.sent_value: dict[InstrumentId, tuple[int, float]] = {}
        self.spots: dict[str, float] = {}
        """The spots of the last repricing: a message's underlying_price is the one its
        fair value was computed from."""
        self.last_row = 0.0
        self.top_rows_ns = max(1, top_rows_every) * NS_PER_SECOND
        self.top_slot: int | None = None
        """The game-time slot (of `top_rows_every` seconds) whose tops were last stored."""
        self.history = history
        """Where the underlyings' prices are sampled for `GET /market/history`."""

    def relist(self) -> None:
        """The listed options changed (an expiry, a new weekly)."""
        self.options = [i for i in self.venue.instruments.values() if i.is_option]
        listed = set(self.venue.instruments)
        self.fanout.forget_market(listed)
        for table in (self.greeks, self.sent_value):
            for instrument_id in [k for k in table if k not in listed]:
                del table[instrument_id]

    def publish(self) -> None:
        """The interval's prints, then market data for what changed."""
        self.fanout.flush_tape()
        moved = self.reprice() if self.cache is not None else set()
        self._save_tops(self.clock.now())
        if self.history is not None:
            self.history.sample_prices(self._underlyings())
        dirty, self.fanout.dirty = self.fanout.dirty | moved, set()
        dirty &= self.venue.books.keys()
        instruments = self.venue.instruments
        ordered = sorted(dirty)
        messages = self.with_implied_vols([self.market_data(i) for i in ordered])
        for instrument_id, data in zip(ordered, messages, strict=True):
            underlying = instruments[instrument_id].underlying
            self.fanout.snapshot_all("market_data", data, instrument_id, underlying)

    def reprice(self) -> set[InstrumentId]:
        """Update spots, fair values and greeks; the instruments worth a fresh message."""
        assert self.cache is not None
        while self.prices is not None and not self.prices.empty():
            outcome, start = self.prices.get_nowait()
            self.cache.load(outcome, start, _step_ns(outcome, start))
        now = self.clock.now()
        spots = self.spots = self.cache.spots(now)
        reference = self.venue.reference_price
        for symbol, spot in spots.items():
            reference[InstrumentId(symbol)] = round_to_tick(spot)
        self._save_prices(now, spots)
        if self.options:
            self._price_chain(
                chain_greeks(self.options, spots, self.cache.vol_at(now), now, self.expiry_ns)
            )
        return self._moved()

    def _price_chain(self, g: Greeks) -> None:
        reference = self.venue.reference_price
        fair_values: dict[str, int] = {}
        for k, option in enumerate(self.options):
            value = round_to_tick(float(g.value[k]))
            reference[option.id] = value
            fair_values[option.id] = value
            self.greeks[option.id] = (float(g.delta[k]), float(g.gamma[k]), float(g.vega[k]))
        assert self.cache is not None
        self.cache.fair_values = fair_values

    def _moved(self) -> set[InstrumentId]:
        wall = time.monotonic()
        out: set[InstrumentId] = set()
        for instrument_id, value in self.venue.reference_price.items():
            sent = self.sent_value.get(instrument_id)
            if sent is None or (sent[0] != value and wall - sent[1] >= self.refresh):
                out.add(instrument_id)
        return out

    def market_data(self, instrument_id: InstrumentId) -> MarketData:
        venue = self.venue
        book, phase = venue.books[instrument_id], venue.book_phase[instrument_id]
        reference = venue.reference(instrument_id)
        data = views.market_data(book, phase, venue.last_price.get(instrument_id), reference)
        fair = venue.reference_price.get(instrument_id)
        if fair is None or self.cache is None:
            return data
        self.sent_value[instrument_id] = (fair, time.monotonic())
        instrument = venue.instruments[instrument_id]
        spot = self.spots.get(instrument.underlying)
        extra: dict[str, Any] = {
            "fair_value": fair / TICKS_PER_UNIT,
            "underlying_price": None if spot is None else round(spot, 2),
        }
        if instrument.is_option and instrument_id in self.greeks:
            delta, gamma, vega = self.greeks[instrument_id]
            extra |= {"delta": round(delta, 4), "gamma": round(gamma, 6), "vega": round(vega, 4)}
        return msgspec.structs.replace(data, **extra)

    def with_implied_vols(self, messages: list[MarketData]) -> list[MarketData]:
        """The messages, each option's with the volatility its mid implies, solved for
        all of them in one call: a call costs about the same at any length (a fixed
        number of steps over arrays), and solving the options one by one held the loop
        for a third of a second at each publish of a live chain."""
        now, instruments = self.clock.now(), self.venue.instruments
        picked: list[tuple[int, float, float, float, float, bool]] = []
        for n, data in enumerate(messages):
            i = instruments[InstrumentId(data.instrument_id)]
            spot = self.spots.get(i.underlying)
            if data.delta is None or data.bid is None or data.ask is None or spot is None:
                continue  # not a priced option, or no two-sided market to imply from
            assert i.strike is not None and i.expiry is not None
            years = (self.expiry_ns(i.expiry) - now) / NS_PER_YEAR
            mid = (data.bid + data.ask) / 2
            picked.append((n, mid, spot, i.strike / TICKS_PER_UNIT, years, i.kind == "CALL"))
        if not picked:
            return messages
        at, mids, spots, strikes, times, calls = (np.array(x) for x in zip(*picked, strict=True))
        vols = implied_vol(mids, spots, strikes, times, calls)
        out = list(messages)
        for n, vol in zip(at.tolist(), vols.tolist(), strict=True):
            implied = None if math.isnan(vol) else round(vol, 4)
            out[n] = msgspec.structs.replace(out[n], implied_vol=implied)
        return out

    def _underlyings(self) -> list[tuple[str, float | None, float | None]]:
        """Each underlying's mid (null while one-sided) and simulated price, in currency."""
        out: list[tuple[str, float | None, float | None]] = []
        for instrument_id, book in sorted(self.venue.books.items()):
            if self.venue.instruments[instrument_id].is_option:
                continue
            bid, ask = book.best_bid(), book.best_ask()
            mid = None if bid is None or ask is None else (bid + ask) / 2 / TICKS_PER_UNIT
            out.append((instrument_id, mid, self.spots.get(instrument_id)))
        return out

    def _save_prices(self, now: int, spots: dict[str, float]) -> None:
        wall = time.monotonic()
        if self.save_row is None or wall - self.last_row < PRICE_ROWS_EVERY:
            return
        self.last_row = wall
        for symbol, spot in spots.items():
            self.save_row("prices", rows.underlying_row(now, symbol, Ticks(round_to_tick(spot))))

    def _save_tops(self, now: int) -> None:
        """Every listed book's top, once per `top_rows_every` game seconds while the market
        is open (the market quality report samples them): a paused clock adds none."""
        slot = now // self.top_rows_ns
        if self.save_row is None or slot == self.top_slot or self.venue.phase is Phase.CLOSED:
            return
        self.top_slot = slot
        last = self.venue.last_price
        for instrument_id, book in sorted(self.venue.books.items()):
            bid, ask = book.best(Side.BUY), book.best(Side.SELL)
            self.save_row("prices", rows.top_row(
                now, instrument_id, None if bid is None else bid.price,
                0 if bid is None else bid.quantity, None if ask is None else ask.price,
                0 if ask is None else ask.quantity, last.get(instrument_id),
            ))  # fmt: skip


def _step_ns(outcome: TickOutcome, start: int) -> int:
    """Game nanoseconds per point of the tick's path."""
    return max(1, (outcome.ts_ns - start) // max(1, outcome.spx_path.size))
