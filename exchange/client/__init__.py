"""An async client for bot authors: every REST endpoint, the WebSocket stream with
automatic resume, and a runner that trades any `TradingStrategy` remotely, unchanged.

Usage::

    import asyncio
    from exchange.client import Client

    async def main() -> None:
        base = "http://127.0.0.1:8000"
        team = await Client.register(base, "Alpha Desk", "market_maker")
        async with Client(base, team.api_key, team_id=team.team_id) as c:
            ack = await c.place_order("SPX_CALL_4400_20261204", "buy", 5, price=122.0)
            async for message in c.stream():          # reconnects with ?since= by itself
                if message.type == "execution_report":
                    print(message.data["order_id"], message.data["status"])
                elif message.type == "resync_required":
                    ...  # rebuild from the position_snapshot that follows, and GET /fills
                # ignore the types you do not know

    asyncio.run(main())

A strategy written for the embedded runner trades remotely as it is::

    from bots.market_maker import MarketMaker
    from exchange.client import run_remote

    stats = asyncio.run(run_remote(MarketMaker(), base, team.api_key, seconds=60))

Answers are decoded into the Structs of `exchange.wire.models`. Every error is an
`ExchangeError` (with `code`, `message`, `details`, `status`) of the subclass its code
means: `RejectedError` for any refused order, quote or cancel (whatever its HTTP status),
`InvalidRequestError`, `AuthError` (`TeamDisabledError`), `RateLimitedError` (a kind of
rejection), `ServerError`, and `ConnectionLostError` for a transport failure. A 429 is
retried after its `Retry-After` with the same `request_id`, so a retried order exists at
most once. The stream reconnects with capped, jittered exponential backoff until it is
closed (or `max_attempts` fail in a row); it raises and stops on a close that
reconnecting cannot mend (1008, 4003).

Orders, quotes and cancels take `via="ws"` to travel as messages on a WebSocket the
client keeps for them (`ws_orders`), with the same answers and errors.

Modules: `rest` (the `Client`), `stream` (the resuming `Stream`), `ws_orders`, `backoff`,
`errors`, `remote`
(`RemoteRunner`), and beside it `sender` (actions as requests, `RunStats`), `state`
(what the runner knows between messages) and `convert` (wire values to domain values).
"""

from __future__ import annotations

from exchange.client.backoff import Backoff
from exchange.client.errors import (
    AuthError,
    ConnectionLostError,
    ExchangeError,
    InvalidRequestError,
    NotFoundError,
    OrderNotFoundError,
    RateLimitedError,
    RateLimitError,
    RejectedError,
    ServerError,
    TeamDisabledError,
)
from exchange.client.remote import RemoteRunner, run_remote
from exchange.client.rest import Client
from exchange.client.sender import RunStats
from exchange.client.stream import Stream, typed
from exchange.wire.messages import Message

__all__ = [
    "AuthError",
    "Backoff",
    "Client",
    "ConnectionLostError",
    "ExchangeError",
    "InvalidRequestError",
    "Message",
    "NotFoundError",
    "OrderNotFoundError",
    "RateLimitError",
    "RateLimitedError",
    "RejectedError",
    "RemoteRunner",
    "RunStats",
    "ServerError",
    "Stream",
    "TeamDisabledError",
    "run_remote",
    "typed",
]
