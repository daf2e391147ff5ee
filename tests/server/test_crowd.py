"""A crowd of teams: broadcasts kept once, whatever the number of teams, and a client
that never reads cut off as a slow consumer (4008), not by the keepalive."""

from __future__ import annotations

import json
import time
import tracemalloc
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from exchange.app import Exchange
from exchange.pipeline.fanout import NOT_READING, SLOW_CONSUMER
from tests.server.harness import Bot, run_server, sandbox
from tests.server.test_stream import RawStream
from tests.support import assert_ok

TOKEN = "organiser-secret-42"
CROWD = 300
FAST_BOARD = {"leaderboard_interval": 0.05}
"""A leaderboard broadcast twenty times a second: 300 teams make each one ~150 KB."""


def register_crowd(base: str, count: int) -> None:
    with httpx.Client(base_url=base, timeout=10) as anyone:
        for n in range(count):
            body = {"team_name": f"crowd-{n}", "role": "hedge_fund"}
            assert_ok(anyone.post("/auth/register", json=body), 201)


def leaderboards(ws: ClientConnection, count: int) -> int:
    """Read until `count` leaderboards have come; the size of the largest, in bytes."""
    largest = 0
    while count:
        text = ws.recv(timeout=20)
        assert isinstance(text, str)
        if json.loads(text)["type"] == "leaderboard":
            largest, count = max(largest, len(text.encode())), count - 1
    return largest


def fanout_bytes() -> int:
    """Bytes allocated in the fan-out's module and still alive."""
    stats = tracemalloc.take_snapshot().statistics("filename")
    return sum(s.size for s in stats if s.traceback[0].filename.endswith("fanout.py"))


# -- memory: one copy of a broadcast, however many teams ---------------------------------


def test_broadcasts_to_300_teams_are_kept_once_within_the_history_bounds() -> None:
    history_bytes = 1_000_000
    config = sandbox(
        scoring=FAST_BOARD,
        server={"history_size": 8, "max_backlog": 7, "history_bytes": history_bytes,
                "max_backlog_bytes": 800_000},
    )  # fmt: skip
    exchange = Exchange(config)
    tracemalloc.start()
    try:
        with run_server(config, exchange=exchange) as base:
            register_crowd(base, CROWD)
            ws_url = base.replace("http://", "ws://") + "/ws"
            with connect(ws_url, max_size=None) as spectator:
                board = leaderboards(spectator, 10)
                early = fanout_bytes()
                board = max(board, leaderboards(spectator, 30))
                late = fanout_bytes()
                kept_count, kept_size = exchange.fanout.kept()
    finally:
        tracemalloc.stop()
    assert board > 100_000  # the crowd makes every leaderboard big
    # Held once for everyone: within one team's bound (plus the newest), not per team.
    assert kept_size <= history_bytes + board and kept_count <= 8
    # Each team costs a small record of its own (its seq, spans, connections): a constant
    # per team, which does not grow with the broadcasts.
    per_team = 2048 * (CROWD + 1)
    assert late <= history_bytes + 2 * board + per_team, (early, late)
    # Thirty more broadcasts to 300 teams add nothing that stays.
    assert late - early <= 2 * board, (early, late)


def test_a_crowd_s_history_holds_the_resume_window_not_the_whole_game() -> None:
    window = 0.5  # at most 11 leaderboards, one every 0.05 s
    config = sandbox(scoring=FAST_BOARD, server={"history_seconds": window})
    exchange = Exchange(config)
    with run_server(config, exchange=exchange) as base:
        register_crowd(base, CROWD)
        ws_url = base.replace("http://", "ws://") + "/ws"
        with connect(ws_url, max_size=None) as spectator:
            board = leaderboards(spectator, 60)
            kept_count, kept_size = exchange.fanout.kept()
            oldest = min(s.oldest() for s in exchange.fanout.streams.values())
            newest = min(s.seq for s in exchange.fanout.streams.values())
    # The default bounds (10,000 messages, 16 MiB) would hold all sixty: the window holds
    # what a minute would in a real game, here half a second.
    assert kept_count <= 12 and kept_size <= 12 * board, (kept_count, kept_size)
    assert newest - oldest < 12  # every team's history: the window, not the game


def test_per_team_history_keeps_one_span_for_any_number_of_broadcasts() -> None:
    config = sandbox(scoring=FAST_BOARD)
    exchange = Exchange(config)
    with run_server(config, exchange=exchange) as base:
        register_crowd(base, 50)
        ws_url = base.replace("http://", "ws://") + "/ws"
        with connect(ws_url, max_size=None) as spectator:
            leaderboards(spectator, 20)
        streams = exchange.fanout.streams.values()
        spans = sum(len(s.spans) for s in streams)
        seqs = min(s.seq for s in streams)
    assert seqs >= 20  # every team's stream carried twenty leaderboards or more
    assert spans == len(streams)  # ... each as one span of shared broadcasts


# -- a client that never reads -----------------------------------------------------------


class SilentStream(RawStream):
    """A raw client that reads nothing until told; then it reads up to the close frame,
    and keeps the close reason too."""

    def read_until_close_with_reason(self) -> tuple[list[Any], int, str]:
        messages, code = self.read_until_close()
        return messages, code, self.reason

    def _frame(self) -> tuple[int, bytes] | None:
        frame = super()._frame()
        if frame is not None and frame[0] == 0x8:
            self.reason = frame[1][2:].decode()
        return frame


def test_a_client_that_never_reads_is_cut_off_with_4008_before_the_keepalive() -> None:
    # A short keepalive (a ping after 5 s, failing 5 s later) so the test can outwait it.
    ping = 5.0
    config = sandbox(scoring=FAST_BOARD, server={"stall_check": 0.2})
    exchange = Exchange(config)
    with run_server(
        config, exchange=exchange, ws_ping_interval=ping, ws_ping_timeout=ping
    ) as base:
        register_crowd(base, 200)  # big leaderboards: the socket's buffers fill fast
        silent = Bot(base)
        raw = SilentStream(base, silent.key)
        connected = time.monotonic()
        try:
            stream = exchange.fanout.streams[silent.team_id]  # type: ignore[index]
            deadline = connected + 60
            while stream.connections and time.monotonic() < deadline:
                time.sleep(0.05)
            cut = not stream.connections
            # Read only once the keepalive would have given up on this client: the close
            # the server queued when it cut the client off must still be what it reads.
            time.sleep(max(0.0, connected + 2 * ping + 2 - time.monotonic()))
            raw.sock.settimeout(30)
            received, code, reason = raw.read_until_close_with_reason()
        finally:
            raw.close()
            silent.close()
    assert cut
    assert (code, reason) == (SLOW_CONSUMER, NOT_READING)
    seqs = [m["seq"] for m in received if m["type"] == "leaderboard"]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # nothing lost on the way
