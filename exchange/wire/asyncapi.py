"""`GET /asyncapi.json`: the WebSocket stream `/ws` as an AsyncAPI 3 document.

Built like `openapi`: each message type's envelope `{seq, type, timestamp, data}` is a
msgspec Struct made here from the `data` Struct the server encodes, and msgspec writes
the schemas. The connect parameters and the close codes are data below.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import msgspec

from exchange import __version__
from exchange.wire.messages import (
    STREAM_TYPES,
    ConnectionStatus,
    Event,
    ExecutionReport,
    Heartbeat,
    MarketData,
    PhaseChange,
    PositionSnapshot,
    PositionUpdate,
    ResyncRequired,
    SettlementReport,
    Signal,
    StreamError,
    Subscribed,
    SubscribeRequest,
    Tape,
)
from exchange.wire.models import LeaderboardView
from exchange.wire.stream_orders import (
    ACCEPTED,
    CancelAccepted,
    CancelAllAccepted,
    CancelAllMessage,
    CancelMessage,
    NewOrderMessage,
    OrderAccepted,
    QuoteAccepted,
    QuoteMessage,
    RequestRejected,
)

PAYLOADS: dict[str, tuple[type[msgspec.Struct], str]] = {
    "connection_status": (ConnectionStatus, "The first message of every connection"),
    "position_snapshot": (PositionSnapshot, "The team's account and open orders, on connect"),
    "resync_required": (ResyncRequired, "The resume point is gone; a fresh snapshot follows"),
    "new_order_ack": (ExecutionReport, "An order (or quote leg) is in the book: exec_type new"),
    "execution_report": (ExecutionReport, "An order traded, or the book refused it"),
    "order_cancelled": (ExecutionReport, "An order left the book unfilled; see reason"),
    "position_update": (PositionUpdate, "The team's position and money after a fill"),
    "trade": (Tape, "The public tape: every print since the previous trade message"),
    "phase_change": (PhaseChange, "The market entered a new phase"),
    "market_data": (MarketData, "The top of one book, when it changed"),
    "heartbeat": (Heartbeat, "Sign of life, every heartbeat_interval seconds"),
    "event": (Event, "A news headline, to everyone"),
    "signal": (Signal, "A role's private signal"),
    "settlement": (SettlementReport, "An expired option's position turned into cash"),
    "leaderboard": (LeaderboardView, "The scores, as GET /leaderboard answers them"),
    "subscribed": (Subscribed, "The books whose market data the connection now receives"),
    "error": (StreamError, "A message the server could not take; nothing changed"),
    "order_accepted": (OrderAccepted, "A new_order is committed and in the book"),
    "quote_accepted": (QuoteAccepted, "A quote's two legs are committed and in the book"),
    "cancel_accepted": (CancelAccepted, "A cancel took the order out of the book"),
    "cancel_all_accepted": (CancelAllAccepted, "A cancel_all took these orders out"),
    "request_rejected": (RequestRejected, "An order request was refused with the REST code"),
}
"""The `data` Struct of every message type the server sends, and what it is."""


def _subscription(kind: str) -> type[msgspec.Struct]:
    """`SubscribeRequest` with its `type` fixed, for the document."""
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = [("type", Literal[kind]),
        ("instruments", list[str], []), ("underlyings", list[str], [])]  # fmt: skip
    name = kind.capitalize() + "Request"
    return msgspec.defstruct(name, fields, frozen=True, forbid_unknown_fields=True,
                             module=SubscribeRequest.__module__)  # fmt: skip


REQUESTS: dict[str, tuple[type[msgspec.Struct], str]] = {
    "subscribe": (_subscription("subscribe"), "Add books whose market data to receive"),
    "unsubscribe": (_subscription("unsubscribe"), "Stop the market data of these books"),
    "new_order": (NewOrderMessage, "POST /orders on the stream; answered by client_id"),
    "quote": (QuoteMessage, "POST /quotes on the stream; answered by client_id"),
    "cancel": (CancelMessage, "DELETE /orders/{order_id} on the stream"),
    "cancel_all": (CancelAllMessage, "DELETE /orders on the stream"),
}
"""Every message a client may send (no envelope: the object itself), and what it does."""


class CloseCode(NamedTuple):
    code: int
    reason: str
    meaning: str


CLOSE_CODES = (
    CloseCode(1008, "missing or wrong API key", "a key was sent and is wrong: fix it"),
    CloseCode(1008, "unknown, used or expired ticket", "get a new ticket (POST /ws/ticket)"),
    CloseCode(1008, "since must be a whole number", "send a whole number, or no since"),
    CloseCode(1008, "unknown instrument or underlying: ...",
              "ask for listed books only (GET /instruments)"),
    CloseCode(4001, "the organiser reissued this team's key",
              "reconnect with the new key the organiser gives you (and since)"),
    CloseCode(4002, "a new round begins: reconnect",
              "reconnect without since: the new round's stream starts afresh"),
    CloseCode(4003, "team disabled by the organiser",
              "stop; reconnecting is refused until the organiser enables the team"),
    CloseCode(4008, "slow consumer: backlog limit reached",
              "reconnect with since (expect resync_required); read faster"),
    CloseCode(4008, "slow consumer: not reading",
              "the connection sat unread: read it, then reconnect with since"),
    CloseCode(1000, "", "normal close: reconnect with since"),
    CloseCode(1001, "", "the server is going away: reconnect with since"),
    CloseCode(1006, "", "the connection was lost: reconnect with since"),
)  # fmt: skip

QUERY = {
    "since": {
        "type": "integer", "minimum": 0,
        "description": "Resume: the seq of the last stream message handled. Every stream "
        "message after it is replayed, or resync_required comes when the history no "
        "longer reaches back.",
    },
    "ticket": {
        "type": "string",
        "description": "A single-use ticket from POST /ws/ticket (browsers: no headers)",
    },
    "api_key": {
        "type": "string",
        "description": "The team's key; prefer the X-API-Key header (a URL gets logged)",
    },
    "instruments": {
        "type": "string",
        "description": "Market data for these instruments only (ids separated by commas); "
        "the team's own messages and the other broadcasts still come",
    },
    "underlyings": {
        "type": "string",
        "description": "Market data for these underlyings and every option on them "
        "(ids separated by commas); with instruments, the union of both",
    },
}  # fmt: skip
HEADERS = {
    "X-API-Key": {
        "type": "string",
        "description": "The team's key. Without a key, ticket or api_key the connection "
        "is a spectator's: the public stream only.",
    }
}

SCHEMAS = "#/components/schemas/{name}"
SCHEMES = ("apiKey", "apiKeyQuery", "ticket")
"""Any one of them names the team; none makes a spectator."""


def envelope(kind: str, payload: type[msgspec.Struct]) -> type[msgspec.Struct]:
    """The Struct of one message type: the shared envelope with `type` fixed."""
    name = "".join(word.capitalize() for word in kind.split("_")) + "Message"
    fields = [("seq", int), ("type", Literal[kind]), ("timestamp", str), ("data", payload)]
    return msgspec.defstruct(name, fields, frozen=True)


def document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of `/ws`."""
    kinds, sent = list(PAYLOADS), list(REQUESTS)
    refs, schemas = msgspec.json.schema_components(
        [envelope(k, PAYLOADS[k][0]) for k in kinds] + [REQUESTS[k][0] for k in sent],
        ref_template=SCHEMAS,
    )
    messages = {kind: _message(kind, ref) for kind, ref in zip(kinds, refs, strict=False)}
    messages |= {k: _request(k, ref) for k, ref in zip(sent, refs[len(kinds) :], strict=True)}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Trading game exchange: the stream",
            "version": __version__,
            "description": _description(),
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:8000",
                "protocol": "ws",
                "description": "The exchange's own address (`serve --host/--port`)",
                "security": [_scheme(name) for name in SCHEMES],
            }
        },
        "channels": {"stream": _channel(kinds + sent)},
        "operations": {
            "receiveStream": {
                "action": "receive",
                "channel": {"$ref": "#/channels/stream"},
                "summary": "Everything the server sends on one connection",
                "messages": [{"$ref": f"#/channels/stream/messages/{k}"} for k in kinds],
            },
            "sendRequests": {
                "action": "send",
                "channel": {"$ref": "#/channels/stream"},
                "summary": "What a client may send: subscriptions, and a team's orders",
                "messages": [{"$ref": f"#/channels/stream/messages/{k}"} for k in sent],
            },
        },
        "components": {
            "messages": messages,
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {"type": "httpApiKey", "name": "X-API-Key", "in": "header"},
                "apiKeyQuery": {"type": "httpApiKey", "name": "api_key", "in": "query"},
                "ticket": {"type": "httpApiKey", "name": "ticket", "in": "query"},
            },
        },
    }


def _scheme(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/securitySchemes/{name}"}


def _channel(kinds: list[str]) -> dict[str, Any]:
    return {
        "address": "/ws",
        "title": "A team's stream, or the public one (no key)",
        "messages": {k: {"$ref": f"#/components/messages/{k}"} for k in kinds},
        "bindings": {
            "ws": {
                "method": "GET",
                "query": {"type": "object", "properties": QUERY},
                "headers": {"type": "object", "properties": HEADERS},
                "bindingVersion": "0.1.0",
            }
        },
        "x-close-codes": [c._asdict() for c in CLOSE_CODES],
    }


def _message(kind: str, ref: dict[str, Any]) -> dict[str, Any]:
    stream = "stream" if kind in STREAM_TYPES else "snapshot"
    return {
        "name": kind,
        "title": kind,
        "summary": PAYLOADS[kind][1],
        "description": f"A {stream} message: "
        + ("it takes the team's next seq and a resume replays it." if stream == "stream"
           else "its seq is the last stream message it includes; never replayed."),
        "payload": ref,
    }  # fmt: skip


def _request(kind: str, ref: dict[str, Any]) -> dict[str, Any]:
    answers = "subscribed or error"
    if kind in ACCEPTED:
        answers = f"{ACCEPTED[kind][0]} or request_rejected, naming its client_id"
    return {
        "name": kind,
        "title": kind,
        "summary": REQUESTS[kind][1],
        "description": f"Sent by the client, as the JSON object itself; answered with {answers}.",
        "payload": ref,
    }


def _description() -> str:
    rows = "\n".join(f"| {c.code} | {c.reason or '-'} | {c.meaning} |" for c in CLOSE_CODES)
    return (
        "The server sends JSON text frames `{seq, type, timestamp, data}`. Ignore "
        "message types and fields you do not know. Connect with the key in X-API-Key, "
        "or `?ticket=` (POST /ws/ticket), or `?api_key=`; with none, as a spectator. "
        "A connection may choose its books (`?instruments=`, `?underlyings=`, or a "
        "subscribe message); by default it gets market data for every instrument. "
        "A team may also trade on its stream (operation sendRequests): `new_order`, "
        "`quote`, `cancel` and `cancel_all` with a `client_id`, each checked as its REST "
        "call is; the answer (`<request>_accepted` with what REST answers, or "
        "`request_rejected` with the REST error code) names the client_id and follows "
        "the stream messages the request caused at once (an order's new_order_ack "
        "and first fills). A message that is no request gets `error`; every message "
        "the client sends also counts as a sign of life."
        "\n\nClose codes:\n\n| code | reason | what to do |\n|---|---|---|\n" + rows
    )


def encoded() -> bytes:
    return msgspec.json.encode(document())
