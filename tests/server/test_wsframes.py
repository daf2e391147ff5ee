"""The server's own framing of the frames it sends (`exchange.web.wsframes`): byte for
byte what the websockets library makes, at every length boundary of RFC 6455."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode

from exchange.web.wsframes import BINARY, TEXT, frame


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
@pytest.mark.parametrize(("first", "opcode"), [(TEXT, Opcode.TEXT), (BINARY, Opcode.BINARY)])
def test_a_frame_is_what_the_library_would_send(first: int, opcode: Opcode, size: int) -> None:
    payload = bytes(i % 251 for i in range(size))
    expected = Frame(opcode, payload).serialize(mask=False, extensions=[])
    assert frame(first, payload) == expected
