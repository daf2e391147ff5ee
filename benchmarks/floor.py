"""The framework floor: a Starlette app that only decodes an order and answers it.

`POST /orders` reads the body, decodes it into the exchange's `OrderRequest` with
msgspec and answers 201 with the same envelope (`OrderAck` inside) that the exchange
sends; there is no validation, no book and no stream. It runs under the same uvicorn,
uvloop and httptools as `serve`, so the e2e benchmark can say how close the exchange
comes to what the framework alone allows: `python -m benchmarks.floor --port 8791`.
"""

from __future__ import annotations

import argparse
import itertools
import time

import msgspec
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from exchange.wire.models import Envelope, OrderAck, OrderRequest

JSON = "application/json"


def create_app() -> Starlette:
    decoder = msgspec.json.Decoder(OrderRequest)
    encoder = msgspec.json.Encoder()
    ids = itertools.count(1)

    async def health(request: Request) -> Response:
        return Response(b'{"success":true}', media_type=JSON)

    async def post_order(request: Request) -> Response:
        req = decoder.decode(await request.body())
        order_id = str(next(ids))
        ack = OrderAck(
            order_id, req.instrument_id, req.side, req.order_type or "limit", req.quantity,
            req.price, "accepted", req.client_order_id,
        )  # fmt: skip
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        body = encoder.encode(Envelope(True, order_id, stamp, ack, None, order_id))
        return Response(body, 201, media_type=JSON)

    routes = [Route("/health", health), Route("/orders", post_order, methods=["POST"])]
    return Starlette(routes=routes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8791)
    args = parser.parse_args()
    uvicorn.run(
        create_app(), host="127.0.0.1", port=args.port, loop="uvloop", http="httptools",
        log_config=None, access_log=False, log_level="warning",
    )  # fmt: skip


if __name__ == "__main__":
    main()
