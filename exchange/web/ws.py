"""`/ws`: authenticate, greet, replay what a resuming client missed, then stream live.

On connect the client gets `connection_status` and `position_snapshot`; with
`?since=<seq>` it then gets every stream message after that seq, or, if the history no
longer reaches back that far, `resync_required` before the snapshot. A wrong key is
accepted and closed at once with 1008, so the client sees a close code, not a bare 403.
No key at all makes a spectator (the dashboard): the public stream only, read-only, with
`connection_status` (team null, role `spectator`) and no position snapshot.

What a client sends is a subscription (`subscriptions`) or, from a team, an order
request (`stream_orders`: `new_order`, `quote`, `cancel`, `cancel_all`).

A browser cannot set `X-API-Key` on a WebSocket, and a key in the URL ends up in the
logs of every server and proxy on the way. So the page first asks `POST /ws/ticket`
(key in the header) for a ticket, then connects with `/ws?ticket=...`: a ticket is
random, good for one connection only and for `TICKET_SECONDS`. `?api_key=` still works
for existing bots; the logs redact it.
"""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict, deque

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.websockets import WebSocket, WebSocketDisconnect

from exchange.control import KEY_REISSUED_CLOSE, TEAM_DISABLED_CLOSE
from exchange.domain.types import NS_PER_SECOND, TeamId
from exchange.pipeline.fanout import PUBLIC, Books, Connection
from exchange.teams import Team
from exchange.web import subscriptions
from exchange.web.game import Game
from exchange.web.http import Api, answer
from exchange.web.orders import Orders
from exchange.web.stream_orders import OrderEntry
from exchange.web.wsframes import socket_of
from exchange.wire import views
from exchange.wire.codec import game_time, whole_number
from exchange.wire.messages import ConnectionStatus, PositionSnapshot, ResyncRequired
from exchange.wire.models import StreamTicket

log = logging.getLogger("exchange.ws")

POLICY_VIOLATION = 1008
TICKET_SECONDS = 30
TICKETS_PER_TEAM = 8
"""Live tickets a team may hold; asking for more drops its oldest (memory stays flat)."""


class Tickets:
    """Single-use stand-ins for an API key, each good for `TICKET_SECONDS`."""

    def __init__(self, lifetime_ns: int = TICKET_SECONDS * NS_PER_SECOND) -> None:
        self.lifetime_ns = lifetime_ns
        self._live: OrderedDict[str, tuple[TeamId, int]] = OrderedDict()
        self._by_team: dict[TeamId, deque[str]] = {}

    def __len__(self) -> int:
        return len(self._live)

    def issue(self, team_id: TeamId, now_ns: int) -> str:
        self._expire(now_ns)
        ticket = "wst_" + secrets.token_urlsafe(24)
        held = self._by_team.setdefault(team_id, deque())
        if len(held) >= TICKETS_PER_TEAM:
            self._live.pop(held.popleft(), None)
        held.append(ticket)
        self._live[ticket] = (team_id, now_ns + self.lifetime_ns)
        return ticket

    def redeem(self, ticket: str, now_ns: int) -> TeamId | None:
        """The ticket's team, once: a used, expired or unknown ticket names nobody."""
        self._expire(now_ns)
        entry = self._live.pop(ticket, None)
        if entry is None:
            return None
        self._forget(entry[0], ticket)
        return entry[0]

    def _expire(self, now_ns: int) -> None:
        # Issued in order with one lifetime, so the expired ones are at the front.
        while self._live:
            ticket, (team_id, until) = next(iter(self._live.items()))
            if until > now_ns:
                return
            del self._live[ticket]
            self._forget(team_id, ticket)

    def clear(self) -> None:
        """Forget every ticket (a new round or a reset)."""
        self._live.clear()
        self._by_team.clear()

    def drop(self, team_id: TeamId) -> None:
        """Forget the team's live tickets (its key was reissued)."""
        for ticket in self._by_team.pop(team_id, ()):
            del self._live[ticket]

    def _forget(self, team_id: TeamId, ticket: str) -> None:
        held = self._by_team[team_id]
        held.remove(ticket)
        if not held:
            del self._by_team[team_id]


class StreamEndpoint:
    def __init__(self, exchange: Game, orders: Orders) -> None:
        self.exchange = exchange
        self.orders = orders
        self.tickets = Tickets()

    def ticket_route(self, api: Api) -> Route:
        """`POST /ws/ticket`: a ticket for `/ws?ticket=`, for the key in `X-API-Key`."""

        async def issue(request: Request, request_id: str) -> Response:
            team = api.auth(request)
            ticket = self.tickets.issue(team.team_id, self.exchange.clock.rate_ns())
            return answer(StreamTicket(ticket, TICKET_SECONDS), request_id)

        return Route("/ws/ticket", api.endpoint(issue), methods=["POST"])

    def caller(self, websocket: WebSocket) -> tuple[Team | None, str | None]:
        """The team a key or ticket names, or why the connection is refused (else a
        spectator: neither was given)."""
        ticket = websocket.query_params.get("ticket")
        if ticket is not None:
            team_id = self.tickets.redeem(ticket, self.exchange.clock.rate_ns())
            if team_id is None:
                return None, "unknown, used or expired ticket"
            return self.exchange.teams.by_id[team_id], None  # dropped on a reissue
        key = websocket.headers.get("x-api-key") or websocket.query_params.get("api_key")
        team = self.exchange.teams.authenticate(key)
        if key is not None and team is None:
            return None, "missing or wrong API key"
        return team, None

    async def handle(self, websocket: WebSocket) -> None:
        team, refusal = self.caller(websocket)
        await websocket.accept()
        if refusal is not None:
            await websocket.close(POLICY_VIOLATION, refusal)
            return
        if team is not None and self.exchange.control.disabled(team.team_id):
            await websocket.close(TEAM_DISABLED_CLOSE, "team disabled by the organiser")
            return
        if team is not None and self.exchange.teams.by_id[team.team_id] != team:
            await websocket.close(KEY_REISSUED_CLOSE, "the organiser reissued this team's key")
            return  # reissued while the connection was being accepted
        since_text = websocket.query_params.get("since")
        since = None if since_text is None else whole_number(since_text)
        if since_text is not None and since is None:
            await websocket.close(POLICY_VIOLATION, "since must be a whole number")
            return
        books, refusal = subscriptions.from_query(self.exchange.venue, websocket.query_params)
        if refusal:
            await websocket.close(POLICY_VIOLATION, _reason(refusal))
            return
        team_id = PUBLIC if team is None else team.team_id
        fanout = self.exchange.fanout  # a new round replaces it: detach from this one
        conn = self.greet(websocket, team_id, since)
        if "instruments" in websocket.query_params or "underlyings" in websocket.query_params:
            self.choose(conn, books)
        log.info("stream connected", extra={"team_id": team_id, "since": since_text})
        entry = OrderEntry(self.orders, fanout, conn, team)
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if team is not None:
                    self.exchange.watchdog.seen(team.team_id)
                text = message.get("text") or message.get("bytes")
                if text is not None and not await entry.handled(text):
                    self.request(conn, text)
        except WebSocketDisconnect:
            pass
        finally:
            entry.close()
            fanout.detach(conn)
            log.info("stream disconnected", extra={"team_id": team_id})

    def request(self, conn: Connection, text: str | bytes) -> None:
        """A `subscribe` or `unsubscribe` from the client: answer with the books now in
        force, or with an error that changed nothing."""
        books, error = subscriptions.change(self.exchange.venue, conn.books, text)
        if error is not None:
            self.exchange.fanout.reply(conn, "error", error)
        else:
            self.choose(conn, books)

    def choose(self, conn: Connection, books: Books | None) -> None:
        """Set the connection's books and confirm them; the books it did not get before
        are published at the next market data interval, so it starts from their state."""
        fanout, venue = self.exchange.fanout, self.exchange.venue
        before = conn.books
        fanout.choose_books(conn, books)
        fanout.reply(conn, "subscribed", subscriptions.confirmation(books))
        if books is not None:
            fanout.dirty.update(
                i.id for i in venue.instruments.values()
                if books.wants(i.id, i.underlying)
                and not (before is None or before.wants(i.id, i.underlying))
            )  # fmt: skip

    def greet(self, websocket: WebSocket, team_id: TeamId, since: int | None) -> Connection:
        """Queue the opening messages; runs without awaiting, so nothing interleaves."""
        e, fanout = self.exchange, self.exchange.fanout
        spectator = team_id == PUBLIC
        socket = socket_of(websocket)
        conn = fanout.spectate(socket) if spectator else fanout.attach(socket, team_id)
        stream = fanout.streams[team_id]
        role = "spectator" if spectator else e.teams.by_id[team_id].role.value
        interval = e.config.server.heartbeat_interval
        resumed = since is not None and fanout.replay_would_work(conn, since)
        status = ConnectionStatus(
            "connected", None if spectator else team_id, role, interval, stream.seq, resumed,
            e.venue.phase.value, game_time(e.clock.now()),
        )  # fmt: skip
        fanout.snapshot(conn, "connection_status", status)
        if since is not None and not resumed:
            gap = ResyncRequired(since, stream.oldest(), stream.seq)
            fanout.snapshot(conn, "resync_required", gap)
        if not spectator:
            fanout.snapshot(conn, "position_snapshot", self.position_snapshot(team_id))
        if since is not None and resumed:
            fanout.replay(conn, since)
        elif since is not None:
            fanout.replay_run(conn, since)
        fanout.market_on_connect(conn)
        return conn

    def position_snapshot(self, team_id: str) -> PositionSnapshot:
        e = self.exchange
        account = e.release.durable_account(team_id)  # type: ignore[arg-type]
        working = e.venue.open_orders(team_id) + e.inflight.pending(team_id)  # type: ignore[arg-type]
        working.sort(key=lambda o: o.order_id)
        return PositionSnapshot(
            views.positions_view(account, e.venue.instruments, e.marks()),
            [views.order_view(o) for o in working],
        )


def _reason(text: str) -> str:
    """A close reason short enough for a close frame (123 bytes at most)."""
    raw = text.encode()
    return text if len(raw) <= 120 else raw[:117].decode(errors="ignore") + "..."
