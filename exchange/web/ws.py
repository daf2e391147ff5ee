"""`/ws`: authenticate, greet, replay what a resuming client missed, then stream live.

On connect the client gets `connection_status` and `position_snapshot`; with
`?since=<seq>` it then gets every stream message after that seq, or, if the history no
longer reaches back that far, `resync_required` before the snapshot. A wrong key is
accepted and closed at once with 1008, so the client sees a close code, not a bare 403.
No key at all makes a spectator (the dashboard): the public stream only, read-only, with
`connection_status` (team null, role `spectator`) and no position snapshot.
"""

from __future__ import annotations

import logging

from starlette.websockets import WebSocket, WebSocketDisconnect

from exchange.app import Exchange
from exchange.control import TEAM_DISABLED_CLOSE
from exchange.domain.types import TeamId
from exchange.pipeline.fanout import PUBLIC, Connection
from exchange.wire import views
from exchange.wire.codec import game_time, whole_number
from exchange.wire.messages import ConnectionStatus, PositionSnapshot, ResyncRequired

log = logging.getLogger("exchange.ws")

POLICY_VIOLATION = 1008


class StreamEndpoint:
    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    async def handle(self, websocket: WebSocket) -> None:
        key = websocket.headers.get("x-api-key") or websocket.query_params.get("api_key")
        team = self.exchange.teams.authenticate(key)
        await websocket.accept()
        if key is not None and team is None:
            await websocket.close(POLICY_VIOLATION, "missing or wrong API key")
            return
        if team is not None and self.exchange.control.disabled(team.team_id):
            await websocket.close(TEAM_DISABLED_CLOSE, "team disabled by the organiser")
            return
        since_text = websocket.query_params.get("since")
        since = None if since_text is None else whole_number(since_text)
        if since_text is not None and since is None:
            await websocket.close(POLICY_VIOLATION, "since must be a whole number")
            return
        team_id = PUBLIC if team is None else team.team_id
        conn = self.greet(websocket, team_id, since)
        log.info("stream connected", extra={"team_id": team_id, "since": since_text})
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if team is not None:
                    self.exchange.watchdog.seen(team.team_id)
        except WebSocketDisconnect:
            pass
        finally:
            self.exchange.fanout.detach(conn)
            log.info("stream disconnected", extra={"team_id": team_id})

    def greet(self, websocket: WebSocket, team_id: TeamId, since: int | None) -> Connection:
        """Queue the opening messages; runs without awaiting, so nothing interleaves."""
        e, fanout = self.exchange, self.exchange.fanout
        spectator = team_id == PUBLIC
        conn = fanout.spectate(websocket) if spectator else fanout.attach(websocket, team_id)
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
        return conn

    def position_snapshot(self, team_id: str) -> PositionSnapshot:
        e = self.exchange
        account = e.publisher.durable_account(team_id)  # type: ignore[arg-type]
        working = e.venue.open_orders(team_id) + e.inflight.pending(team_id)  # type: ignore[arg-type]
        working.sort(key=lambda o: o.order_id)
        return PositionSnapshot(
            views.positions_view(account, e.venue.instruments, e.marks()),
            [views.order_view(o) for o in working],
        )
