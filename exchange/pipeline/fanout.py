"""The WebSocket fan-out: per-team sequenced streams, conflated market data, slow clients.

How it works. Each team has one stream: a `seq` counter and a bounded history of the
stream messages it carried (acks, fills, cancels, positions, public trades, phase
changes, news, signals, the leaderboard). A message is encoded once: a team's own
message whole, with its seq; a broadcast without it (a *tail*: `,"type":...}`), the
seq going in front of it only as it is sent (`{"seq":n` + tail), so one encoding
serves every team that carries it.

Memory does not grow with teams x broadcasts. A team's own messages sit in its history
as they are; a broadcast (`broadcast`: public prints, phase changes, news, the
leaderboard) is kept once, in the shared `Broadcasts` log, and a team's history holds
only a `Span` saying "seqs s..s+n-1 are broadcasts b..b+n-1", grown in place while no
team message comes between. A team that only listens therefore holds one span, however
many broadcasts pass. Each history, and the broadcast log, keeps the messages of the
last `history_seconds` (wall time: the resume window), and of those at most
`history_size` messages and `history_bytes` bytes (a team counts the broadcasts it
refers to at their size), dropping the oldest; the log is trimmed after the teams, with
the same bounds and the same reading of the clock, so it always holds every broadcast
some team still refers to. The window is what makes memory flat: a history holds what
its team was sent in a minute, however long the game and however many teams.

Every connection of the team has a cursor into the stream (the next seq to send), a
short queue of its greeting snapshots, and one slot per instrument for market data (and
one for the heartbeat), where a newer update simply replaces an unsent older one: that
is conflation. Publishing never awaits a socket: it appends and marks the connection,
and in the loop's next turn `drain` writes what each marked connection has, in one
batch, straight to its socket while that takes it without waiting; else it wakes the
connection's sender task, which waits for the socket. So one slow client cannot stall
the loop or anyone else, and a connection that keeps up costs no task switch. A
connection is cut off with close code 4008 when its unsent stream messages pass
`max_backlog` or `max_backlog_bytes` (its team's history still holds what it missed,
so the bot can reconnect with `?since=` and lose nothing), or when one send has waited
on the peer for a whole `stall_check` round (`check_stalls`: the peer does not read at
all).

A connection may ask for some books only (`Books`, set from `?instruments=` and
`?underlyings=` or a `subscribe` message): `snapshot_all` then skips its market data for
the other books, and its sender skips, as it reaches them, the `trade` broadcasts that
hold no print of its books (the broadcast log keeps each one's instruments beside it).
Nothing is copied: a trade message it is sent is the shared one, whole; the seqs it
skips are simply not sent on that connection. The team's own messages are never
skipped.

Spectators (`/ws` without a key, the dashboard) share one more stream, `PUBLIC`, made at
the first spectator's arrival: `broadcast` and `snapshot_all` feed it like a team's, so
it holds only what every team is sent, never a team's own messages or a role's signals,
and its connections get the same conflation and the same slow-consumer cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Collection
from typing import Any, Protocol, runtime_checkable

import msgspec

from exchange.domain.types import InstrumentId, TeamId
from exchange.wire.codec import encoder, utc_now
from exchange.wire.messages import Message, Tape

log = logging.getLogger("exchange.fanout")

PUBLIC = TeamId("public")
"""The spectators' stream; no team id has this form (teams are `T` and four digits)."""
SLOW_CONSUMER = 4008
"""Close code for a client that fell too far behind (4000-4999: the application's own)."""
BACKLOG_FULL = "slow consumer: backlog limit reached"
NOT_READING = "slow consumer: not reading"
_NO_SEQ = b'{"seq":0'
MAX_REPLIES = 64
"""Unsent answers to a connection's own requests (`reply`) before it is cut off."""
BATCH = 64
"""Messages a connection's sender hands its socket at most at once (one write)."""
MAX_ANSWERS = 256
"""Unsent answers to a connection's order requests (`answer`) before it is cut off: room
for every request it may have in flight, and for a burst of them read late."""


def tail_of(kind: str, timestamp: str, data: Any) -> bytes:
    """A stream message encoded without its seq: what follows `{"seq":n`."""
    return encoder.encode(Message(0, kind, timestamp, data))[len(_NO_SEQ) :]


def framed(seq: int, tail: bytes) -> bytes:
    """Stream message `seq`, whole (UTF-8 JSON, the payload of a text frame)."""
    return b'{"seq":%d' % seq + tail


class Socket(Protocol):
    async def send_texts(self, texts: list[bytes]) -> None:
        """Send each as a text message (UTF-8), in order, at once."""

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


@runtime_checkable
class DirectSocket(Socket, Protocol):
    """A socket that can also be written without awaiting, while it is `writable`."""

    def writable(self) -> bool: ...

    def write_texts(self, texts: list[bytes]) -> None:
        """`send_texts` at once; only while `writable`."""


class Limits(msgspec.Struct, frozen=True):
    history_size: int
    max_backlog: int
    history_bytes: int
    max_backlog_bytes: int
    history_seconds: float


class Broadcasts:
    """Every broadcast tail, numbered from 1, kept once for all the streams, with the
    instruments it is about (a `trade` message's books; None: about no book)."""

    __slots__ = ("ends", "first", "size", "tails", "times", "topics")

    def __init__(self) -> None:
        self.first = 1
        """The number of `tails[0]`."""
        self.tails: deque[bytes] = deque()
        self.topics: deque[tuple[str, ...] | None] = deque()
        self.times: deque[float] = deque()
        """When each kept one was added (the fan-out's clock, seconds)."""
        self.ends: deque[int] = deque()
        """Bytes of every broadcast ever added, up to and including each kept one."""
        self.size = 0

    def add(self, tail: bytes, at: float, topics: tuple[str, ...] | None = None) -> int:
        self.tails.append(tail)
        self.topics.append(topics)
        self.times.append(at)
        self.ends.append((self.ends[-1] if self.ends else 0) + len(tail))
        self.size += len(tail)
        return self.first + len(self.tails) - 1

    def get(self, number: int) -> bytes:
        return self.tails[number - self.first]

    def added_at(self, number: int) -> float:
        return self.times[number - self.first]

    def wanted(self, number: int, books: Books) -> bool:
        """Whether a connection that chose `books` is sent broadcast `number`."""
        topics = self.topics[number - self.first]
        return topics is None or any(books.wants(i, i.partition("_")[0]) for i in topics)

    def size_of(self, first: int, last: int) -> int:
        """Bytes of broadcasts `first` .. `last`."""
        begin = self.ends[first - self.first] - len(self.get(first))
        return self.ends[last - self.first] - begin

    def trim(self, limits: Limits, cutoff: float) -> None:
        """Drop the oldest beyond the bounds, and those added before `cutoff`."""
        tails = self.tails
        while len(tails) > 1 and (
            len(tails) > limits.history_size
            or self.size > limits.history_bytes
            or self.times[0] < cutoff
        ):
            self.size -= len(tails.popleft())
            self.ends.popleft()
            self.topics.popleft()
            self.times.popleft()
            self.first += 1


class Span(msgspec.Struct, gc=False):
    """Seqs `seq` .. `seq + count - 1` of a stream: one message of the team's own
    (`own`, whole, count 1, added `at`), or that many consecutive broadcasts from
    number `number` (each added when the broadcast log says; `own` None).

    Untracked by the garbage collector (it refers to no container, so it can be in no
    reference cycle): every team's history holds thousands of them, and each full
    collection would otherwise walk them all while the loop waits."""

    seq: int
    own: bytes | None
    number: int = 0
    count: int = 1
    at: float = 0.0


def _first_seq(span: Span) -> int:
    return span.seq


class Books:
    """The books whose market data a connection wants: the listed instruments, and
    every instrument (the underlying itself and its options) of the listed underlyings."""

    __slots__ = ("instruments", "underlyings")

    def __init__(self, instruments: set[str], underlyings: set[str]) -> None:
        self.instruments = instruments
        self.underlyings = underlyings

    def wants(self, instrument_id: str, underlying: str) -> bool:
        return instrument_id in self.instruments or underlying in self.underlyings


class Connection:
    __slots__ = (
        "answers", "books", "busy", "closed", "cursor", "direct", "greeting", "mark", "market",
        "place", "progress", "queued", "seen", "sender", "socket", "team_id", "wake",
    )  # fmt: skip

    def __init__(self, socket: Socket, team_id: TeamId, stream: TeamStream) -> None:
        self.socket = socket
        self.direct = socket if isinstance(socket, DirectSocket) else None
        """The socket, if it can be written without awaiting (`Fanout.drain`)."""
        self.queued = False
        """Waiting for the next `drain`."""
        self.team_id = team_id
        self.greeting: deque[bytes] = deque()
        """Snapshots of the moment of connecting; sent before any stream message."""
        self.answers: deque[tuple[int, bytes]] = deque()
        """Answers to its orders, each sent once the stream messages up to its seq are."""
        self.cursor = stream.seq + 1
        """The next stream seq to send."""
        self.mark = stream.total
        """The stream's `total` bytes up to the cursor: unsent bytes are the rest."""
        self.place = 0
        """Where the last seq it sent was found in the history (`TeamStream.at`)."""
        self.market: dict[str, bytes] = {}
        self.books: Books | None = None
        """The books whose market data it wants; None for every book."""
        self.wake = asyncio.Event()
        self.closed = False
        self.sender: asyncio.Task[None] | None = None
        self.busy = False
        """A send is waiting on the peer."""
        self.progress = 0
        """Sends finished; `seen` is its value at the last stall check."""
        self.seen = -1


class TeamStream:
    __slots__ = ("connections", "dropped", "kept", "kept_bytes", "seq", "spans", "total")

    def __init__(self, base: int = 0) -> None:
        self.seq = base
        self.spans: deque[Span] = deque()
        self.dropped = 0
        """Spans dropped from the front so far: span `spans[i]` is at place `dropped + i`."""
        self.kept = 0
        """Seqs kept: `oldest()` .. `seq`."""
        self.kept_bytes = 0
        self.total = 0
        """Bytes of every message ever appended (for a connection's unsent bytes)."""
        self.connections: set[Connection] = set()

    def oldest(self) -> int:
        """The first seq still kept (seq + 1 when nothing is kept)."""
        return self.seq - self.kept + 1

    def add_own(self, kind: str, timestamp: str, data: Any, at: float) -> None:
        self.seq += 1
        message = encoder.encode(Message(self.seq, kind, timestamp, data))
        self.spans.append(Span(self.seq, message, at=at))
        self._added(len(message))

    def add_broadcast(self, number: int, tail: bytes) -> None:
        self.seq += 1
        last = self.spans[-1] if self.spans else None
        if last is not None and last.own is None and last.number + last.count == number:
            last.count += 1
        else:
            self.spans.append(Span(self.seq, None, number))
        self._added(len(tail))

    def _added(self, size: int) -> None:
        self.kept += 1
        self.kept_bytes += size
        self.total += size

    def trim(self, limits: Limits, broadcasts: Broadcasts, cutoff: float) -> None:
        """Drop the oldest messages beyond the bounds, and those added before `cutoff`
        (the newest always stays). Runs at every message: once the bounds are reached,
        each message added drops one, so the team's own (a span of one) is dropped
        without a call."""
        spans, size, most = self.spans, limits.history_size, limits.history_bytes
        while self.kept > 1:
            span = spans[0]
            own = span.own
            at = span.at if own is not None else broadcasts.added_at(span.number)
            if self.kept <= size and self.kept_bytes <= most and at >= cutoff:
                return
            self.kept -= 1
            if own is not None:
                self.kept_bytes -= len(own)
                spans.popleft()
                self.dropped += 1
            else:
                self.kept_bytes -= len(self._drop_broadcast(span, broadcasts))

    def _drop_broadcast(self, span: Span, broadcasts: Broadcasts) -> bytes:
        """Drop the first seq of the oldest span, a run of broadcasts; its tail."""
        tail = broadcasts.get(span.number)
        span.seq, span.number, span.count = span.seq + 1, span.number + 1, span.count - 1
        if span.count == 0:
            self.spans.popleft()
            self.dropped += 1
        return tail

    def at(self, seq: int, broadcasts: Broadcasts, place: int) -> tuple[bytes, int, int]:
        """A kept seq: the team's own message (whole) and 0, or a broadcast's tail and
        its number; and
        the place of its span. A reader going through the seqs in order passes the place
        it got for the one before: the seq is in that span or the next, found without a
        search (a deque is slow to index in the middle)."""
        spans, i = self.spans, place - self.dropped
        if 0 <= i < len(spans) and seq >= spans[i].seq:
            span = spans[i]
            if seq >= span.seq + span.count:
                i += 1
                span = spans[i] if i < len(spans) else span
        else:
            span = spans[0]
        if not span.seq <= seq < span.seq + span.count:
            i = bisect_right(spans, seq, key=_first_seq) - 1
            span = spans[i]
        place = self.dropped + i
        if span.own is not None:
            return span.own, 0, place
        number = span.number + seq - span.seq
        return broadcasts.get(number), number, place

    def bytes_after(self, since: int, broadcasts: Broadcasts) -> int:
        """Bytes of the kept messages after `since`."""
        size = 0
        for span in reversed(self.spans):
            last = span.seq + span.count - 1
            if last <= since:
                break
            if span.own is not None:
                size += len(span.own)
            else:
                first = max(span.seq, since + 1)
                size += broadcasts.size_of(
                    span.number + first - span.seq, span.number + last - span.seq
                )
        return size


class Fanout:
    def __init__(
        self,
        history_size: int,
        max_backlog: int,
        history_bytes: int = 16 << 20,
        max_backlog_bytes: int = 4 << 20,
        recorder: Callable[[str, Any], None] | None = None,
        history_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = Limits(
            history_size, max_backlog, history_bytes, max_backlog_bytes, history_seconds
        )
        self.clock = clock
        """Wall seconds, for the histories' window (monotonic)."""
        self.broadcasts = Broadcasts()
        self.streams: dict[TeamId, TeamStream] = {}
        self.seq_base = 0
        """Where this run's seqs start: above every seq of an earlier run of the game (a
        restart), so a resume point from before the restart can never look current."""
        self.dirty: set[InstrumentId] = set()
        self.tape: list[Any] = []
        """Public trade prints waiting for the next `flush_tape`."""
        self.cut_off = 0
        self.recorder = recorder
        """Told of every broadcast (the market history keeps the day's public messages)."""
        self.waiting: list[Connection] = []
        """Connections with something new to send, for the next `drain`."""
        self.draining = False
        """A `drain` is due in the loop's next turn."""
        self.market_now: dict[str, tuple[str, msgspec.Raw]] = {}
        """The latest market data of each book (by id, with its underlying), encoded:
        what a connection is sent on connect (`market_on_connect`)."""

    # -- publishing (never awaits) ----------------------------------------------------

    def add_team(self, team_id: TeamId) -> None:
        self.streams.setdefault(team_id, TeamStream(self.seq_base))

    def stream(self, team_id: TeamId, kind: str, data: Any, timestamp: str | None = None) -> None:
        """Append a stream message to one team's stream and push it to its connections.
        A team without a stream (the house's, which never connect) is not told."""
        s = self.streams.get(team_id)
        if s is None:
            return
        now = self.clock()
        s.add_own(kind, timestamp or utc_now(), data, now)
        s.trim(self.limits, self.broadcasts, now - self.limits.history_seconds)
        self._wake(s)

    def stream_all(self, messages: list[tuple[TeamId, str, Any]], timestamp: str) -> None:
        """`stream` for each of (team, kind, data), in order; each team's stream is
        trimmed and its connections woken once, after its last."""
        now, streams, touched = self.clock(), self.streams, []
        for team_id, kind, data in messages:
            s = streams.get(team_id)
            if s is not None:
                s.add_own(kind, timestamp, data, now)
                if s not in touched:
                    touched.append(s)
        cutoff = now - self.limits.history_seconds
        for s in touched:
            s.trim(self.limits, self.broadcasts, cutoff)
            self._wake(s)

    def broadcast(self, kind: str, data: Any, topics: tuple[str, ...] | None = None) -> None:
        """A public stream message, in every team's stream (each with its own seq),
        encoded and kept once; with `topics` (the books it is about), skipped by the
        connections that chose none of them."""
        if self.recorder is not None:
            self.recorder(kind, data)
        tail = tail_of(kind, utc_now(), data)
        now = self.clock()
        cutoff = now - self.limits.history_seconds
        number = self.broadcasts.add(tail, now, topics)
        for s in self.streams.values():
            s.add_broadcast(number, tail)
            s.trim(self.limits, self.broadcasts, cutoff)
            self._wake(s)
        self.broadcasts.trim(self.limits, cutoff)

    def print_trade(self, trade_print: Any) -> None:
        self.tape.append(trade_print)

    def flush_tape(self) -> None:
        """Send the prints gathered since the last flush as one `trade` stream message."""
        if self.tape:
            prints, self.tape = self.tape, []
            books = tuple(sorted({p.instrument_id for p in prints}))
            self.broadcast("trade", Tape(prints), books)

    def snapshot(self, conn: Connection, kind: str, data: Any, slot: str | None = None) -> None:
        """A snapshot message for one connection: without a slot, one of its greeting
        (sent before any stream message); with one, a newer one replaces it."""
        if conn.closed:
            return
        seq = self.streams[conn.team_id].seq
        encoded = encoder.encode(Message(seq, kind, utc_now(), data))
        if slot is None:
            conn.greeting.append(encoded)
        else:
            conn.market[slot] = encoded
        self._ready(conn)

    def reply(self, conn: Connection, kind: str, data: Any) -> None:
        """An answer to what the connection sent, queued like its greeting. A client
        that sends requests faster than it reads the answers is cut off."""
        if len(conn.greeting) >= MAX_REPLIES:
            self.cut(conn, SLOW_CONSUMER, BACKLOG_FULL)
        else:
            self.snapshot(conn, kind, data)

    def answer(self, conn: Connection, kind: str, data: Any) -> None:
        """The answer to an order request of the connection: sent after every stream
        message the team has now (its order's `new_order_ack` and first fills among
        them), and carrying the seq of the last one. A client that sends orders
        faster than it reads the answers is cut off."""
        if conn.closed:
            return
        if len(conn.answers) >= MAX_ANSWERS:
            self.cut(conn, SLOW_CONSUMER, BACKLOG_FULL)
            return
        seq = self.streams[conn.team_id].seq
        conn.answers.append((seq, encoder.encode(Message(seq, kind, utc_now(), data))))
        self._ready(conn)

    def snapshot_all(self, kind: str, data: Any, slot: str, underlying: str | None = None) -> None:
        """A snapshot for every connection; with `underlying` (market data for the book
        `slot`), only for the connections that want that book."""
        raw = msgspec.Raw(encoder.encode(data))
        if underlying is not None:
            self.market_now[slot] = (underlying, raw)
        for s in self.streams.values():
            for conn in s.connections:
                books = conn.books
                if underlying is None or books is None or books.wants(slot, underlying):
                    self.snapshot(conn, kind, raw, slot)

    def market_on_connect(self, conn: Connection) -> None:
        """The latest market data of every book, for a connection that just opened: it
        then knows each book's top, fair value and greeks at once, not from each book's
        next change (a far option may not change for a long time)."""
        books = conn.books
        for slot, (underlying, raw) in self.market_now.items():
            if books is None or books.wants(slot, underlying):
                self.snapshot(conn, "market_data", raw, slot)

    def forget_market(self, listed: Collection[str]) -> None:
        """Drop the latest market data of books no longer listed."""
        for slot in [s for s in self.market_now if s not in listed]:
            del self.market_now[slot]

    def choose_books(self, conn: Connection, books: Books | None) -> None:
        """Set the books a connection wants, dropping its unsent market data for others."""
        conn.books = books
        if books is not None:
            for slot in [k for k in conn.market if k != "heartbeat"]:
                if not books.wants(slot, slot.partition("_")[0]):  # ids start with it
                    del conn.market[slot]

    def touch(self, instrument_id: InstrumentId) -> None:
        """An instrument's top changed; the market data task publishes it soon."""
        self.dirty.add(instrument_id)

    def _wake(self, s: TeamStream) -> None:
        """Wake the stream's connections, cutting off those too far behind."""
        first, least = s.seq + 1 - self.limits.max_backlog, s.total - self.limits.max_backlog_bytes
        late = None
        for conn in s.connections:
            if conn.cursor < first or conn.mark < least:
                late = [conn] if late is None else [*late, conn]
            else:
                self._ready(conn)
        for conn in late or ():  # cut after the loop: a cut changes the set
            self.cut(conn, SLOW_CONSUMER, BACKLOG_FULL)

    def _ready(self, conn: Connection) -> None:
        """The connection has something new to send: at the next `drain` (or by its
        sender, for a socket that cannot be written without awaiting)."""
        if conn.direct is None:
            conn.wake.set()
        elif not conn.queued:
            conn.queued = True
            self.waiting.append(conn)
            if not self.draining:
                self.draining = True
                asyncio.get_running_loop().call_soon(self.drain)

    def drain(self) -> None:
        """Send what every connection that has something new has: in the loop's turn
        after the first of them, so each sends all it got in a turn in one batch (no
        task of its own woken, and fewer, larger writes than one per outbox)."""
        self.draining = False
        waiting, self.waiting = self.waiting, []
        for conn in waiting:
            conn.queued = False
            self._write(conn)

    def _write(self, conn: Connection) -> None:
        """Write what the connection has to send straight to its socket, without waking
        its sender, when the socket takes it without waiting; else wake the sender."""
        socket = conn.direct
        if conn.closed:
            return
        if socket is None or conn.busy or not socket.writable():
            conn.wake.set()
            return
        try:
            while socket.writable() and (batch := self._batch(conn)):
                socket.write_texts(batch)
                conn.progress += 1
        except Exception as exc:  # the peer went away
            log.info("connection ended while sending", extra={"error": repr(exc)})
            self.detach(conn)
            return
        if not socket.writable():
            conn.wake.set()  # the rest waits for the socket, in the sender

    # -- connections ------------------------------------------------------------------

    def attach(self, socket: Socket, team_id: TeamId) -> Connection:
        self.add_team(team_id)
        stream = self.streams[team_id]
        conn = Connection(socket, team_id, stream)
        stream.connections.add(conn)
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
        """Send the stream messages after `since` first; False if history lacks them."""
        if not self.replay_would_work(conn, since):
            return False
        s = self.streams[conn.team_id]
        conn.cursor = since + 1
        conn.mark = s.total - s.bytes_after(since, self.broadcasts)
        self._ready(conn)
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
        conn.greeting.clear()
        conn.answers.clear()
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

    def check_stalls(self) -> None:
        """Cut off every connection whose send has waited on its peer since the last
        check: a peer that does not read at all never fills a backlog of stream
        messages (market data is conflated), and must not hold its socket forever."""
        for s in tuple(self.streams.values()):
            for conn in tuple(s.connections):
                if conn.busy and conn.progress == conn.seen:
                    self.cut(conn, SLOW_CONSUMER, NOT_READING)
                conn.seen = conn.progress

    def kept(self) -> tuple[int, int]:
        """Distinct stream messages held in memory, and their bytes (broadcasts once)."""
        count, size = len(self.broadcasts.tails), self.broadcasts.size
        for s in self.streams.values():
            for span in s.spans:
                if span.own is not None:
                    count, size = count + 1, size + len(span.own)
        return count, size

    def _batch(self, conn: Connection) -> list[bytes]:
        """What the connection sends next, up to `BATCH` messages, in order."""
        batch: list[bytes] = []
        while len(batch) < BATCH and not conn.closed and (message := self._next(conn)):
            batch.append(message)
        return batch

    def _next(self, conn: Connection) -> bytes | None:
        """What the connection sends next: its greeting, then its stream in order, then
        the latest snapshot of each slot; None when nothing is left."""
        if conn.greeting:
            return conn.greeting.popleft()
        s, answers = self.streams[conn.team_id], conn.answers
        while True:
            if answers and answers[0][0] < conn.cursor:
                return answers.popleft()[1]
            if conn.cursor > s.seq:
                break
            if conn.cursor < s.oldest():  # the limits cut it off before this can happen
                self.cut(conn, SLOW_CONSUMER, BACKLOG_FULL)
                return None
            seq = conn.cursor
            text, number, conn.place = s.at(seq, self.broadcasts, conn.place)
            conn.cursor, conn.mark = seq + 1, conn.mark + len(text)
            if not number:
                return text
            books = conn.books
            if books is not None and not self.broadcasts.wanted(number, books):
                continue  # prints of books the connection did not choose: skipped
            return framed(seq, text)
        if conn.market:
            return conn.market.pop(next(iter(conn.market)))
        return None

    async def _send(self, conn: Connection) -> None:
        try:
            while not conn.closed:
                await conn.wake.wait()
                conn.wake.clear()
                while batch := self._batch(conn):
                    conn.busy = True
                    await conn.socket.send_texts(batch)
                    conn.busy, conn.progress = False, conn.progress + 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the peer went away mid-send
            log.info("connection ended while sending", extra={"error": repr(exc)})
            self.detach(conn)


CLOSE_TIMEOUT = 30.0
"""Seconds a socket's close may take before it is given up (the web server queues the
close frame behind what is already on its way, and closes the connection later)."""


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
