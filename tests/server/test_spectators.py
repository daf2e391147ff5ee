"""`/ws` without a key: the read-only public stream a spectator (the dashboard) gets.

End to end on a real server: the greeting, the public messages, nothing private. Then
the fan-out alone, with sockets that never finish a send: a spectator is cut off like a
slow team, and a team's own messages and a role's signals never reach it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from exchange.domain.types import TeamId
from exchange.pipeline.fanout import PUBLIC, SLOW_CONSUMER, Fanout
from tests.server.harness import Bot, run_server, sandbox, stream
from tests.support import has_print, is_type, recv_until

PRIVATE_TYPES = {
    "new_order_ack", "execution_report", "order_cancelled", "position_update",
    "position_snapshot", "signal", "settlement",
}  # fmt: skip


def spectate(base: str, query: str = "") -> ClientConnection:
    return connect(base.replace("http://", "ws://") + "/ws" + query, open_timeout=5)


def test_no_key_is_greeted_as_a_spectator_without_a_position_snapshot(server: str) -> None:
    with spectate(server) as ws:
        status = json.loads(ws.recv(timeout=5))
        heartbeat_or_market = json.loads(ws.recv(timeout=10))
    assert status["type"] == "connection_status"
    assert status["data"]["team_id"] is None
    assert status["data"]["role"] == "spectator"
    assert status["data"]["resumed"] is False
    assert heartbeat_or_market["type"] != "position_snapshot"


def test_spectator_sees_prints_and_market_data_but_no_teams_private_messages(
    bots: Callable[..., Bot], server: str, fresh_option: Callable[[], str]
) -> None:
    instrument = fresh_option()
    maker, taker = bots(), bots("hedge_fund")
    with spectate(server) as ws, stream(maker) as maker_ws:
        recv_until(ws, is_type("connection_status"))
        recv_until(maker_ws, is_type("position_snapshot"))
        assert maker.order(instrument, "sell", 4, 10.0).status_code == 201
        assert taker.order(instrument, "buy", 3, 10.0).status_code == 201
        seen = recv_until(ws, has_print(instrument_id=instrument, quantity=3))
        seen += recv_until(ws, is_type("market_data", instrument_id=instrument, last=10.0))
        # The maker's own stream has its fill: the spectator's must not.
        recv_until(maker_ws, is_type("execution_report", instrument_id=instrument))
    assert not [m["type"] for m in seen if m["type"] in PRIVATE_TYPES]
    top = seen[-1]["data"]
    assert (top["ask"], top["ask_size"], top["last"]) == (10.0, 1, 10.0)


def test_spectator_gets_heartbeats_and_can_resume_with_since() -> None:
    with run_server(sandbox(server={"heartbeat_interval": 0.2})) as base:
        maker, taker = Bot(base), Bot(base, "hedge_fund")
        try:
            with spectate(base) as ws:
                recv_until(ws, is_type("connection_status"))
                recv_until(ws, is_type("heartbeat"))
                assert maker.order("SPX", "sell", 2, 100.0).status_code == 201
                assert taker.order("SPX", "buy", 2, 100.0).status_code == 201
                first = recv_until(ws, has_print(instrument_id="SPX"))[-1]
            with spectate(base, f"?since={first['seq'] - 1}") as again:
                status = json.loads(again.recv(timeout=5))
                replayed = recv_until(again, is_type("trade"))[-1]
        finally:
            maker.close()
            taker.close()
    assert status["data"]["resumed"] is True and status["data"]["role"] == "spectator"
    assert replayed == first


def test_wrong_key_is_still_refused_while_spectators_are_served(server: str) -> None:
    with spectate(server) as watcher, spectate(server, "?api_key=wrong") as refused:
        assert json.loads(watcher.recv(timeout=5))["data"]["role"] == "spectator"
        with pytest.raises(ConnectionClosed) as closed:
            refused.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


# -- the fan-out alone -------------------------------------------------------------------


class StalledSocket:
    """A peer that never reads: every send waits forever."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed_with: int | None = None

    async def send_texts(self, texts: list[bytes]) -> None:
        self.sent.extend(text.decode() for text in texts)
        await asyncio.Event().wait()

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed_with = code


async def test_public_stream_gets_broadcasts_only_and_is_cut_off_when_slow() -> None:
    fanout = Fanout(history_size=100, max_backlog=3)
    team = TeamId("T0001")
    fanout.add_team(team)
    socket = StalledSocket()
    conn = fanout.spectate(socket)
    fanout.stream(team, "signal", {"kind": "volatility_forecast"})
    fanout.stream(team, "position_update", {"quantity": 1})
    assert fanout.streams[PUBLIC].seq == 0 and conn.cursor == 1  # nothing to send
    fanout.snapshot_all("market_data", {"bid": 1.0}, "SPX")
    fanout.snapshot_all("market_data", {"bid": 2.0}, "SPX")
    assert list(conn.market) == ["SPX"]  # conflated: the newer replaced the older
    for n in range(5):
        fanout.broadcast("event", {"headline": f"news {n}"})
    for _ in range(100):  # let the background close run (a few loop turns)
        if socket.closed_with is not None:
            break
        await asyncio.sleep(0)
    assert conn.closed and fanout.cut_off == 1
    assert socket.closed_with == SLOW_CONSUMER
    assert fanout.streams[PUBLIC].seq == 5 and fanout.streams[team].seq == 7
    assert fanout.connections() == 0
