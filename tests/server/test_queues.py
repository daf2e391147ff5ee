"""TradeQueue's order: outcomes enter in the order their producers put them, even when the
queue is full and a get frees a slot just as a new producer arrives (the arrivals log's
seqs rely on it)."""

from __future__ import annotations

import asyncio

from exchange.pipeline.queues import FairQueue


async def test_a_put_waiting_on_a_full_queue_is_not_overtaken() -> None:
    queue: FairQueue[str] = FairQueue(1)
    await queue.put("first")
    waiting = asyncio.create_task(queue.put("second"))
    await asyncio.sleep(0)  # it waits: the queue is full
    late = asyncio.create_task(queue.put("third"))  # ready to run: it runs first...
    assert queue.get_nowait() == "first"  # ...after this frees a slot for the waiting one
    await asyncio.sleep(0)
    assert await queue.get() == "second"
    await waiting
    assert await queue.get() == "third"
    await late


async def test_a_cancelled_waiting_put_hands_its_turn_on() -> None:
    queue: FairQueue[int] = FairQueue(1)
    await queue.put(1)
    gone = asyncio.create_task(queue.put(2))
    after = asyncio.create_task(queue.put(3))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.gather(gone, return_exceptions=True)
    assert queue.get_nowait() == 1
    await asyncio.wait_for(after, 5)  # a bound, not a timing claim
    assert queue.get_nowait() == 3 and queue.empty()
