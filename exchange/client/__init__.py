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

Answers are decoded into the Structs of `exchange.wire.models`; an error answer raises
`ExchangeError` (with `code`, `message`, `details`, `status`). A 429 is retried after its
`Retry-After` with the same `request_id`, so a retried order exists at most once.

Modules: `rest` (the `Client`), `stream` (the resuming `Stream`), `errors`, `remote`
(`RemoteRunner`), and beside it `sender` (actions as requests, `RunStats`), `state`
(what the runner knows between messages) and `convert` (wire values to domain values).
"""

from __future__ import annotations

from exchange.client.errors import (
    AuthError,
    ExchangeError,
    NotFoundError,
    RateLimitError,
    RejectedError,
)
from exchange.client.remote import RemoteRunner, run_remote
from exchange.client.rest import Client
from exchange.client.sender import RunStats
from exchange.client.stream import Stream, typed
from exchange.wire.messages import Message

__all__ = [
    "AuthError",
    "Client",
    "ExchangeError",
    "Message",
    "NotFoundError",
    "RateLimitError",
    "RejectedError",
    "RemoteRunner",
    "RunStats",
    "Stream",
    "run_remote",
    "typed",
]
