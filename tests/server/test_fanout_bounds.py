"""The fan-out's memory under steady traffic: each history stays within its count and
byte bounds, broadcasts are held once, and what a reader receives is still every
stream message in order with its own team's seq."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from exchange.domain.types import TeamId
from exchange.pipeline.fanout import SLOW_CONSUMER, Fanout

TEAMS = [TeamId(f"T{n:04d}") for n in range(1, 21)]
HISTORY, HISTORY_BYTES = 50, 20_000


class Reader:
    """A peer that reads everything at once."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.closed_with: int | None = None

    async def send_texts(self, texts: list[bytes]) -> None:
        self.received.extend(json.loads(text) for text in texts)

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
    # Flat: the second thousand rounds on hold as many messages as the fifth, and as
    # many bytes but for the seqs in the team's own messages (a digit more, at most).
    assert sizes[1][0] == sizes[-1][0]
    assert 0 <= sizes[-1][1] - sizes[1][1] <= sizes[-1][0]
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


# -- the resume window: memory flat however long the game runs ---------------------------


class FakeClock:
    """Wall seconds that pass only when the test says."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


IDLE = [TeamId(f"T{n:04d}") for n in range(100, 400)]
WINDOW = 60.0
STEP = 0.5
"""Seconds between rounds: a window holds 120 rounds."""


def windowed(clock: FakeClock, max_backlog: int = 2_000) -> Fanout:
    """The default count and byte bounds, which this traffic never reaches in a window."""
    fanout = Fanout(10_000, max_backlog, history_seconds=WINDOW, clock=clock)
    for team in TEAMS + IDLE:
        fanout.add_team(team)
    return fanout


def rounds(fanout: Fanout, clock: FakeClock, count: int) -> None:
    """Every round: a broadcast to all, and an own message of each busy team."""
    for n in range(count):
        clock.now += STEP
        fanout.broadcast("event", {"headline": f"news {n}", "pad": "y" * 300})
        for team in TEAMS:
            fanout.stream(team, "position_update", {"n": n, "pad": "x" * 200})


async def test_300_idle_teams_and_busy_ones_hold_one_window_however_long_the_game() -> None:
    clock = FakeClock()
    fanout = windowed(clock)
    rounds(fanout, clock, 200)
    sizes = []
    for _ in range(4):  # twenty windows more
        rounds(fanout, clock, 600)
        sizes.append(fanout.kept())
    in_window = int(WINDOW / STEP) + 1
    assert sizes[0] == sizes[-1]  # flat: the game's length adds nothing
    count, size = sizes[-1]
    assert count <= in_window * (len(TEAMS) + 1)  # own messages and the shared log
    assert size < in_window * (len(TEAMS) + 1) * 400
    assert len(fanout.broadcasts.tails) <= in_window
    for team in TEAMS + IDLE:
        s = fanout.streams[team]
        assert s.kept <= in_window * 2  # its own and the broadcasts: one window's worth
        assert len(s.spans) <= s.kept
    assert all(len(fanout.streams[t].spans) == 1 for t in IDLE)  # a listener: one span


async def test_a_resume_within_the_window_replays_and_from_before_it_resyncs() -> None:
    clock = FakeClock()
    fanout = windowed(clock)
    rounds(fanout, clock, 100)
    team = TEAMS[0]
    stream = fanout.streams[team]
    recent = stream.seq - 40  # twenty rounds, ten seconds ago
    rounds(fanout, clock, 150)  # seventy-five seconds more: `recent` is out of the window
    assert not fanout.replay(fanout.attach(Reader(), team), recent)
    since = stream.seq - 40
    reader = Reader()
    assert fanout.replay(fanout.attach(reader, team), since)
    await asyncio.sleep(0)
    assert [m["seq"] for m in reader.received] == list(range(since + 1, stream.seq + 1))


async def test_a_reader_further_behind_than_the_window_is_cut_off() -> None:
    clock = FakeClock()
    fanout = windowed(clock, max_backlog=9_000)  # only the window can cut it off
    reader = Reader()
    conn = fanout.attach(reader, TEAMS[0])
    rounds(fanout, clock, 150)  # its sender never ran: it is 75 seconds behind
    for _ in range(10):  # let the sender and the background close run
        await asyncio.sleep(0)
    assert conn.closed and reader.closed_with == SLOW_CONSUMER
    assert reader.received == []  # cut off at the first message it lacked
