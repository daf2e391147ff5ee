"""The server's own framing of the frames it sends (`exchange.web.wsframes`): byte for
byte what the websockets library makes, at every length boundary of RFC 6455; and, with
compression in force, frames the library makes, whole and in order."""

from __future__ import annotations

import json

import pytest
from websockets.frames import Frame, Opcode

from exchange.web.wsframes import BINARY, TEXT, frame
from tests.server.harness import UNTHROTTLED, Bot, run_server, sandbox, stream
from tests.support import recv_until


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
@pytest.mark.parametrize(("first", "opcode"), [(TEXT, Opcode.TEXT), (BINARY, Opcode.BINARY)])
def test_a_frame_is_what_the_library_would_send(first: int, opcode: Opcode, size: int) -> None:
    payload = bytes(i % 251 for i in range(size))
    expected = Frame(opcode, payload).serialize(mask=False, extensions=[])
    assert frame(first, payload) == expected


def test_with_compression_in_force_the_stream_arrives_whole_and_in_order() -> None:
    with run_server(sandbox(**UNTHROTTLED), ws_per_message_deflate=True) as base:
        bot = Bot(base, "market_maker")
        listed = bot.http.get("/instruments").json()["data"]
        option = next(i["instrument_id"] for i in listed if i["kind"] != "UNDERLYING")
        with stream(bot) as ws:
            assert ws.response is not None
            assert "permessage-deflate" in ws.response.headers["Sec-WebSocket-Extensions"]
            recv_until(ws, lambda m: m["type"] == "position_snapshot")
            for n in range(3):
                order = {"instrument_id": option, "side": "buy", "quantity": 1, "price": 1.0}
                ws.send(json.dumps({"type": "new_order", "client_id": f"z{n}", **order}))
            seen = recv_until(ws, lambda m: m["type"] == "order_accepted" and
                              m["data"]["client_id"] == "z2")  # fmt: skip
        bot.close()
    answers = [m["data"]["client_id"] for m in seen if m["type"] == "order_accepted"]
    acks = [m for m in seen if m["type"] == "new_order_ack"]
    assert answers == ["z0", "z1", "z2"] and len(acks) == 3
    seqs = [m["seq"] for m in seen if m["type"] == "new_order_ack"]
    assert seqs == sorted(seqs)
