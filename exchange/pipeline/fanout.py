"""The WebSocket fan-out: per-team sequenced streams, conflated market data, slow clients.

How it works. Each team has one stream: a `seq` counter and a bounded history of the
encoded stream messages (acks, fills, cancels, positions, public trades, phase changes,
news, signals). Every connection of the team has its own queue of unsent stream
messages and one slot per instrument for market data (and one for the heartbeat), where
a newer update simply replaces an unsent older one: that is conflation. Publishing never
awaits a socket: it appends and wakes the connection's sender task, so one slow client
cannot stall the loop or anyone else. A connection whose unsent stream messages pass
`max_backlog` is cut off with close code 4008; its team's history still holds what it
missed, so the bot can reconnect with `?since=` and lose nothing.

Spectators (`/ws` without a key, the dashboard) share one more stream, `PUBLIC`, made at
the first spectator's arrival: `broadcast` and `snapshot_all` feed it like a team's, so
it holds only what every team is sent, never a team's own messages or a role's signals,
and its connections get the same conflation and the same slow-consumer cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import msgspec

from exchange.domain.types import InstrumentId, TeamId
from exchange.wire.codec import encoder, utc_now
from exchange.wire.messages import Message, Tape

log = logging.getLogger("exchange.fanout")

PUBLIC = TeamId("public")
"""The spectators' stream; no team id has this form (teams are `T` and four digits)."""
SLOW_CONSUMER = 4008
"""Close code for a client that fell too far behind (4000-4999: the application's own)."""


class Socket(Protocol):
    async def send_text(self, data: str) -> None: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


class Connection:
    __slots__ = ("closed", "market", "pending", "sender", "socket", "team_id", "wake")

    def __init__(self, socket: Socket, team_id: TeamId) -> None:
        self.socket = socket
        self.team_id = team_id
        self.pending: deque[bytes] = deque()
        self.market: dict[str, bytes] = {}
        self.wake = asyncio.Event()
        self.closed = False
        self.sender: asyncio.Task[None] | None = None


class TeamStream:
    __slots__ = ("connections", "history", "seq")

    def __init__(self, history_size: int, base: int = 0) -> None:
        self.seq = base
        self.history: deque[tuple[int, bytes]] = deque(maxlen=history_size)
        self.connections: set[Connection] = set()

    def oldest(self) -> int:
        """The first seq still kept (seq + 1 when nothing is kept)."""
        return self.history[0][0] if self.history else self.seq + 1


class Fanout:
    def __init__(self, history_size: int, max_backlog: int) -> None:
        self.history_size = history_size
        self.max_backlog = max_backlog
        self.streams: dict[TeamId, TeamStream] = {}
        self.seq_base = 0
        """Where this run's seqs start: above every seq of an earlier run of the game (a
        restart), so a resume point from before the restart can never look current."""
        self.dirty: set[InstrumentId] = set()
        self.tape: list[Any] = []
        """Public trade prints waiting for the next `flush_tape`."""
        self.cut_off = 0

    # -- publishing (never awaits) ----------------------------------------------------

    def add_team(self, team_id: TeamId) -> None:
        self.streams.setdefault(team_id, TeamStream(self.history_size, self.seq_base))

    def stream(self, team_id: TeamId, kind: str, data: Any, timestamp: str | None = None) -> None:
        """Append a stream message to one team's stream and push it to its connections.
        A team without a stream (the house's, which never connect) is not told."""
        s = self.streams.get(team_id)
        if s is None:
            return
        s.seq += 1
        encoded = encoder.encode(Message(s.seq, kind, timestamp or utc_now(), data))
        s.history.append((s.seq, encoded))
        for conn in tuple(s.connections):  # _push may cut one off: not the set itself
            self._push(conn, encoded)

    def broadcast(self, kind: str, data: Any) -> None:
        """A public stream message, in every team's stream (each with its own seq)."""
        raw = msgspec.Raw(encoder.encode(data))
        timestamp = utc_now()
        for team_id in self.streams:
            self.stream(team_id, kind, raw, timestamp)

    def print_trade(self, trade_print: Any) -> None:
        self.tape.append(trade_print)

    def flush_tape(self) -> None:
        """Send the prints gathered since the last flush as one `trade` stream message."""
        if self.tape:
            prints, self.tape = self.tape, []
            self.broadcast("trade", Tape(prints))

    def snapshot(self, conn: Connection, kind: str, data: Any, slot: str | None = None) -> None:
        """A snapshot message for one connection; with a slot, a newer one replaces it."""
        seq = self.streams[conn.team_id].seq
        encoded = encoder.encode(Message(seq, kind, utc_now(), data))
        if slot is None:
            self._push(conn, encoded)
        elif not conn.closed:
            conn.market[slot] = encoded
            conn.wake.set()

    def snapshot_all(self, kind: str, data: Any, slot: str) -> None:
        raw = msgspec.Raw(encoder.encode(data))
        for s in self.streams.values():
            for conn in s.connections:
                self.snapshot(conn, kind, raw, slot)

    def touch(self, instrument_id: InstrumentId) -> None:
        """An instrument's top changed; the market data task publishes it soon."""
        self.dirty.add(instrument_id)

    def _push(self, conn: Connection, encoded: bytes) -> None:
        if conn.closed:
            return
        conn.pending.append(encoded)
        if len(conn.pending) > self.max_backlog:
            self.cut(conn, SLOW_CONSUMER, "slow consumer: backlog limit reached")
        else:
            conn.wake.set()

    # -- connections ------------------------------------------------------------------

    def attach(self, socket: Socket, team_id: TeamId) -> Connection:
        conn = Connection(socket, team_id)
        self.add_team(team_id)
        self.streams[team_id].connections.add(conn)
        conn.sender = asyncio.get_running_loop().create_task(self._send(conn))
        return conn

    def spectate(self, socket: Socket) -> Connection:
        """A read-only connection to the public stream."""
        self.add_team(PUBLIC)
        return self.attach(socket, PUBLIC)

    def replay_would_work(self, conn: Connection, since: int) -> bool:
        """Whether the history still holds every stream message after `since`."""
        s = self.streams[conn.team_id]
        return since <= s.seq and since + 1 >= s.oldest()

    def replay(self, conn: Connection, since: int) -> bool:
        """Queue the stream messages after `since`; False if history no longer has them."""
        if not self.replay_would_work(conn, since):
            return False
        for seq, encoded in self.streams[conn.team_id].history:
            if seq > since:
                conn.pending.append(encoded)
        conn.wake.set()
        return True

    def replay_run(self, conn: Connection, since: int) -> None:
        """A client resuming from before a restart: after its resync and snapshot, what
        this run has streamed so far (the restart's cancels), if all of it is kept."""
        s = self.streams[conn.team_id]
        if since < self.seq_base and s.oldest() == self.seq_base + 1:
            self.replay(conn, self.seq_base)

    def detach(self, conn: Connection) -> None:
        conn.closed = True
        self.streams[conn.team_id].connections.discard(conn)
        conn.pending.clear()
        conn.market.clear()
        if conn.sender is not None and conn.sender is not asyncio.current_task():
            conn.sender.cancel()

    def cut(self, conn: Connection, code: int, reason: str) -> None:
        """Drop a connection now; closing its socket happens in the background."""
        log.warning("cutting off a connection", extra={"team_id": conn.team_id, "reason": reason})
        self.cut_off += 1
        self.detach(conn)
        asyncio.get_running_loop().create_task(_close(conn.socket, code, reason))

    def connections(self) -> int:
        return sum(len(s.connections) for s in self.streams.values())

    async def _send(self, conn: Connection) -> None:
        """Drain stream messages first (in order), then the latest snapshot of each slot."""
        try:
            while not conn.closed:
                await conn.wake.wait()
                conn.wake.clear()
                while conn.pending or conn.market:
                    if conn.pending:
                        encoded = conn.pending.popleft()
                    else:
                        encoded = conn.market.pop(next(iter(conn.market)))
                    await conn.socket.send_text(encoded.decode())
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the peer went away mid-send
            log.info("connection ended while sending", extra={"error": repr(exc)})
            self.detach(conn)


CLOSE_TIMEOUT = 30.0
"""Seconds a cut-off client has to read what is already on its way before the close frame
(the server sends that frame only once its write buffer drains); then it is given up."""


async def _close(socket: Socket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(socket.close(code, reason), timeout=CLOSE_TIMEOUT)


def periodic(interval: float, action: Callable[[], None], name: str) -> Callable[[], Any]:
    """A task body that runs `action` every `interval` seconds, forever."""

    async def run() -> None:
        while True:
            await asyncio.sleep(interval)
            action()

    run.__name__ = name
    return run
