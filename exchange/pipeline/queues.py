"""A bounded queue that keeps its producers' order when it is full.

`asyncio.Queue` wakes the first waiting `put()` when a `get()` frees a slot, but a
`put()` called before that producer runs again finds room and takes the slot: items can
enter out of the order `put()` was called in. TradeQueue must not reorder: the matchers'
outcomes carry the arrivals log's seqs, and a committed prefix of the database has to be
a prefix of the log (a crash must not keep an arrival and lose one before it). Here a
`put()` waits behind anyone already waiting, so items enter in call order.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TypeVar

T = TypeVar("T")


class FairQueue(asyncio.Queue[T]):
    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(maxsize)
        self._line: deque[asyncio.Future[None]] = deque()
        """Waiting producers, first come first; only the first is ever woken."""

    async def put(self, item: T) -> None:
        if self._line or self.full():
            await self._wait_turn()
        self.put_nowait(item)

    def get_nowait(self) -> T:
        item = super().get_nowait()  # `get()` ends here too
        self._call_next()
        return item

    async def _wait_turn(self) -> None:
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[None] = loop.create_future()
        self._line.append(turn)
        try:
            while True:
                await turn
                if not self.full():
                    return  # first in line, and there is room: put before anyone runs
                turn = self._line[0] = loop.create_future()  # filled again: wait on
        finally:
            self._line.remove(turn)
            self._call_next()

    def _call_next(self) -> None:
        if self._line and not self.full() and not self._line[0].done():
            self._line[0].set_result(None)
