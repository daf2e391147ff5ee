"""The fan-out's memory under steady traffic: each history stays within its count and
byte bounds, broadcasts are held once, and what a reader receives is still every
stream message in order with its own team's seq."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from exchange.domain.types import TeamId
from exchange.pipeline.fanout import Fanout

TEAMS = [TeamId(f"T{n:04d}") for n in range(1, 21)]
HISTORY, HISTORY_BYTES = 50, 20_000


class Reader:
    """A peer that reads everything at once."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.closed_with: int | None = None

    async def send_text(self, data: str) -> None:
        self.received.append(json.loads(data))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed_with = code


async def traffic(fanout: Fanout, start: int, rounds: int) -> None:
    """Each team's own messages, and a public one every fifth; readers read between."""
    for n in range(start, start + rounds):
        fanout.stream(TEAMS[n % len(TEAMS)], "position_update", {"n": n, "pad": "x" * 200})
        if n % 5 == 0:
            fanout.broadcast("event", {"headline": f"news {n}", "pad": "y" * 500})
        await asyncio.sleep(0)


async def test_steady_traffic_stays_within_the_bounds_and_reaches_readers_whole() -> None:
    fanout = Fanout(HISTORY, 10, HISTORY_BYTES, 5_000)
    for team in TEAMS:
        fanout.add_team(team)
    reader = Reader()
    conn = fanout.attach(reader, TEAMS[0])
    sizes = []
    for n in range(5):
        await traffic(fanout, n * 1_000, 1_000)
        sizes.append(fanout.kept())
    assert not conn.closed and reader.closed_with is None
    for s in fanout.streams.values():
        assert s.kept <= HISTORY and s.kept_bytes <= HISTORY_BYTES
        assert len(s.spans) <= HISTORY
    # Flat: the second thousand rounds on hold no more than the fifth.
    assert sizes[1] == sizes[-1]
    count, size = sizes[-1]
    assert count <= (len(TEAMS) + 1) * HISTORY and size <= (len(TEAMS) + 1) * HISTORY_BYTES
    # The reader got its team's whole stream, numbered without gaps, each message once.
    seqs = [m["seq"] for m in reader.received]
    assert seqs == list(range(1, fanout.streams[TEAMS[0]].seq + 1))
    own = [m["data"]["n"] for m in reader.received if m["type"] == "position_update"]
    assert own == list(range(0, 5_000, len(TEAMS)))
    assert sum(m["type"] == "event" for m in reader.received) == 1_000


async def test_a_resume_replays_own_messages_and_broadcasts_in_order() -> None:
    fanout = Fanout(HISTORY, 10, HISTORY_BYTES, 5_000)
    for team in TEAMS:
        fanout.add_team(team)
    await traffic(fanout, 0, 400)
    stream = fanout.streams[TEAMS[0]]
    since = stream.oldest() - 1
    live = Reader()
    fanout.attach(live, TEAMS[0])
    replayed = Reader()
    conn = fanout.attach(replayed, TEAMS[0])
    assert fanout.replay(conn, since)
    await asyncio.sleep(0)  # the replay goes out before more comes
    await traffic(fanout, 400, 20)
    assert [m["seq"] for m in replayed.received] == list(range(since + 1, stream.seq + 1))
    assert replayed.received[-len(live.received) :] == live.received
    assert {m["type"] for m in replayed.received} == {"position_update", "event"}
    assert not fanout.replay(conn, since - 1)  # older than the history: a resync
