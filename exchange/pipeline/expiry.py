"""The expiry task: settles each weekly at its expiry and lists the next one.

At an expiry's settlement moment (the close of its expiry date, game time) every option
of that date is sent an `Expire` through its own matcher, behind the orders already
queued for it: the matcher cancels what rests (reason `expired`), the publisher settles
every position at intrinsic value against the underlying's price at that moment, and
then the option is delisted and its matcher stopped. A new weekly is listed at the far
end, with strikes around the spot of the day, so `listed_expiries` stay listed
(SPEC section 2).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from exchange.clock import Clock
from exchange.domain.instruments import ChainSpec, Instrument, intrinsic_value, options_for
from exchange.domain.ticks import round_to_tick
from exchange.domain.types import InstrumentId, TimeNs
from exchange.domain.venue import ExchangeVenue
from exchange.pipeline.items import Expire
from exchange.pipeline.simulator import sleep_until

log = logging.getLogger("exchange.expiry")


class Expiry:
    def __init__(
        self,
        venue: ExchangeVenue,
        clock: Clock,
        chain: ChainSpec,
        matchers: Mapping[InstrumentId, asyncio.Queue[Any]],
        expiry_ns: Callable[[dt.date], int],
        spots: Callable[[int], Mapping[str, float]],
        listed: Callable[[list[Instrument]], Awaitable[None]],
        delisted: Callable[[list[InstrumentId]], Awaitable[None]],
    ) -> None:
        self.venue = venue
        self.clock = clock
        self.chain = chain
        self.matchers = matchers
        self.expiry_ns = expiry_ns
        self.spots = spots
        self.listed = listed
        self.delisted = delisted

    async def run(self) -> None:
        while True:
            dates = sorted({i.expiry for i in self.options() if i.expiry is not None})
            if not dates:
                await asyncio.sleep(1.0)
                continue
            due = dates[0]
            await sleep_until(self.clock, self.expiry_ns(due))
            await self.settle(due, TimeNs(self.expiry_ns(due)))
            await self.list_next(dates[-1] + dt.timedelta(weeks=1))

    def options(self) -> list[Instrument]:
        return [i for i in self.venue.instruments.values() if i.is_option]

    async def settle(self, date: dt.date, at: TimeNs) -> None:
        """Expire every option of `date` through its matcher, then delist them; each is
        worth its intrinsic value against the underlying's price at the moment `at`."""
        spots = self.spots(at)
        expiring = [i for i in self.options() if i.expiry == date]
        settled = []
        for option in expiring:
            underlying = round_to_tick(spots[option.underlying])
            value = intrinsic_value(option, underlying)
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            await self.matchers[option.id].put(Expire(option.id, value, at, done))
            settled.append(done)
        await asyncio.gather(*settled)
        await self.delisted([o.id for o in expiring])
        log.info("options expired", extra={"expiry": date.isoformat(), "count": len(expiring)})

    async def list_next(self, date: dt.date) -> None:
        spots = self.spots(self.clock.now())
        new: list[Instrument] = []
        for u in self.chain.underlyings:
            new += options_for(
                u, spots.get(u.symbol, u.initial_price), [date], self.chain.moneyness
            )
        added = self.venue.list_instruments(new)
        await self.listed(added)
        log.info("weekly listed", extra={"expiry": date.isoformat(), "count": len(added)})
