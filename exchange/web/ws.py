"""`/ws`: authenticate, greet, replay what a resuming client missed, then stream live.

On connect the client gets `connection_status` and `position_snapshot`; with
`?since=<seq>` it then gets every stream message after that seq, or, if the history no
longer reaches back that far, `resync_required` before the snapshot. A wrong key is
accepted and closed at once with 1008, so the client sees a close code, not a bare 403.
"""

from __future__ import annotations

import logging

from starlette.websockets import WebSocket, WebSocketDisconnect

from exchange.app import Exchange
from exchange.pipeline.fanout import Connection
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
        if team is None:
            await websocket.close(POLICY_VIOLATION, "missing or wrong API key")
            return
        since_text = websocket.query_params.get("since")
        since = None if since_text is None else whole_number(since_text)
        if since_text is not None and since is None:
            await websocket.close(POLICY_VIOLATION, "since must be a whole number")
            return
        conn = self.greet(websocket, team.team_id, since)
        log.info("stream connected", extra={"team_id": team.team_id, "since": since_text})
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                self.exchange.watchdog.seen(team.team_id)
        except WebSocketDisconnect:
            pass
        finally:
            self.exchange.fanout.detach(conn)
            log.info("stream disconnected", extra={"team_id": team.team_id})

    def greet(self, websocket: WebSocket, team_id: str, since: int | None) -> Connection:
        """Queue the opening messages; runs without awaiting, so nothing interleaves."""
        e, fanout = self.exchange, self.exchange.fanout
        team = e.teams.by_id[team_id]  # type: ignore[index]
        conn = fanout.attach(websocket, team.team_id)
        stream = fanout.streams[team.team_id]
        interval = e.config.server.heartbeat_interval
        resumed = since is not None and fanout.replay_would_work(conn, since)
        status = ConnectionStatus(
            "connected", team.team_id, team.role.value, interval, stream.seq, resumed,
            e.venue.phase.value, game_time(e.clock.now()),
        )  # fmt: skip
        fanout.snapshot(conn, "connection_status", status)
        if since is not None and not resumed:
            gap = ResyncRequired(since, stream.oldest(), stream.seq)
            fanout.snapshot(conn, "resync_required", gap)
        fanout.snapshot(conn, "position_snapshot", self.position_snapshot(team.team_id))
        if since is not None and resumed:
            fanout.replay(conn, since)
        elif since is not None:
            fanout.replay_run(conn, since)
        return conn

    def position_snapshot(self, team_id: str) -> PositionSnapshot:
        e = self.exchange
        account = e.session.ledger.account(team_id)  # type: ignore[arg-type]
        working = e.venue.open_orders(team_id) + e.inflight.pending(team_id)  # type: ignore[arg-type]
        working.sort(key=lambda o: o.order_id)
        return PositionSnapshot(
            views.positions_view(account, e.venue.instruments, e.marks()),
            [views.order_view(o) for o in working],
        )
