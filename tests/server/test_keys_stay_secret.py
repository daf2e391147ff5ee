"""API keys stay out of URLs and logs: a browser opens its team's stream with a
single-use ticket from `POST /ws/ticket`, and no log line (uvicorn's included, its
access log too) carries a key or a ticket, even when a bot still sends `?api_key=`."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from exchange.domain.types import TeamId
from exchange.logs import JsonFormatter
from exchange.web.ws import TICKET_SECONDS, TICKETS_PER_TEAM, Tickets
from tests.server.harness import Bot, run_server

SECOND = 1_000_000_000


class Lines(logging.Handler):
    """Every record any logger emits, as the exchange's JSON formatter writes it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        self.lines.append(self.format(record))


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    root, access = logging.getLogger(), logging.getLogger("uvicorn.access")
    # A server run with access_log=False (every other test's) stops this propagating.
    propagate, access.propagate = access.propagate, True
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        access.propagate = propagate


def ticket(bot: Bot) -> str:
    reply = bot.http.post("/ws/ticket")
    assert reply.status_code == 200, reply.text
    data = reply.json()["data"]
    assert data["expires_in"] == TICKET_SECONDS
    return str(data["ticket"])


def first_message(url: str) -> dict[str, object]:
    with connect(url, open_timeout=5) as ws:
        return json.loads(ws.recv(timeout=5))  # type: ignore[no-any-return]


def close_code(url: str) -> tuple[int, str]:
    with connect(url, open_timeout=5) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


def test_no_key_or_ticket_reaches_a_log_line(lines: Lines) -> None:
    with run_server(log_level="info", access_log=True) as base:
        bot = Bot(base)
        ws_url = bot.ws_url
        legacy = first_message(f"{ws_url}?api_key={bot.key}")
        granted = ticket(bot)
        greeted = first_message(f"{ws_url}?ticket={granted}")
        assert httpx.get(f"{base}/health?api_key={bot.key}").status_code == 200
        bot.close()
    assert legacy["type"] == greeted["type"] == "connection_status"
    text = "\n".join(lines.lines)
    assert "WebSocket /ws?api_key=[redacted]" in text  # uvicorn's line is there, scrubbed
    assert "GET /health?api_key=[redacted]" in text  # and its access log's
    assert "ticket=[redacted]" in text
    assert bot.key not in text
    assert bot.key[3:] not in text
    assert granted not in text


def test_a_ticket_opens_the_team_stream_once() -> None:
    with run_server() as base:
        bot = Bot(base)
        url = f"{bot.ws_url}?ticket={ticket(bot)}"
        status = first_message(url)
        assert status["data"]["team_id"] == bot.team_id  # type: ignore[index]
        assert close_code(url) == (1008, "unknown, used or expired ticket")
        assert close_code(f"{bot.ws_url}?ticket=wst_made-up")[0] == 1008
        bot.close()


@pytest.mark.parametrize("key", [None, "ex_not-a-key"])
def test_a_ticket_needs_a_good_key_in_the_header(key: str | None) -> None:
    with run_server() as base:
        headers = {} if key is None else {"X-API-Key": key}
        reply = httpx.post(f"{base}/ws/ticket", headers=headers)
    assert reply.status_code == 401
    assert reply.json()["error"]["code"] == "UNAUTHORIZED"


def test_a_ticket_expires_and_a_team_holds_only_a_few() -> None:
    tickets = Tickets()
    team = TeamId("T0001")
    late = tickets.issue(team, 0)
    assert tickets.redeem(late, TICKET_SECONDS * SECOND) is None
    many = [tickets.issue(team, 1) for _ in range(TICKETS_PER_TEAM + 5)]
    assert len(tickets) == TICKETS_PER_TEAM
    assert tickets.redeem(many[0], 2) is None  # the oldest were dropped
    assert tickets.redeem(many[-1], 2) == team
    assert tickets.redeem(many[-1], 2) is None
    tickets.issue(TeamId("T0002"), 3 + TICKET_SECONDS * SECOND)
    assert len(tickets) == 1  # the expired ones went when the next was issued
