"""`/market/prices`, `/market/book/{instrument_id}`, `/market/history`, `/instruments`: the
public market, for anyone (no key needed).
"""

from __future__ import annotations

import datetime as dt

from starlette.requests import Request
from starlette.responses import Response

from exchange.domain.types import InstrumentId
from exchange.web.game import Game
from exchange.web.http import Api, Handler, answer
from exchange.wire import views
from exchange.wire.codec import (
    game_time,
    price_out,
    whole_number,
)
from exchange.wire.errors import ApiError
from exchange.wire.models import (
    PricesView,
)

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class Market:
    """The public market as the venue holds it now, and the day so far."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.exchange: Game = api.exchange

    def table(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/market/prices", self.prices),
            ("GET", "/market/book/{instrument_id}", self.book),
            ("GET", "/market/history", self.history),
            ("GET", "/instruments", self.instruments),
        ]

    async def prices(self, request: Request, request_id: str) -> Response:
        e, venue = self.exchange, self.exchange.venue
        fair, phases, last = venue.reference_price, venue.book_phase, venue.last_price
        lines = [
            views.price_line(book, phases[i], last.get(i), venue.reference(i), fair.get(i))
            for i, book in venue.books.items()
        ]
        underlyings: dict[str, float | None] = {
            i.id: price_out(venue.reference(i.id))
            for i in venue.instruments.values()
            if not i.is_option
        }
        data = PricesView(venue.phase.value, game_time(e.clock.now()), underlyings, lines)
        return answer(data, request_id)

    async def history(self, request: Request, request_id: str) -> Response:
        """The day's public market so far (for a dashboard opened late), from `since`."""
        since = request.query_params.get("since")
        since_ns = None if since is None else _game_ns(since)
        return answer(self.exchange.history.since(since_ns), request_id)

    async def book(self, request: Request, request_id: str) -> Response:
        venue = self.exchange.venue
        instrument = request.path_params["instrument_id"]
        if instrument not in venue.books:
            raise ApiError("NOT_FOUND", f"unknown instrument {instrument!r}")
        depth = whole_number(request.query_params.get("depth", "5"), 2)
        if depth is None or not 1 <= depth <= 50:
            raise ApiError("INVALID_FIELD", "depth must be 1 to 50", {"field": "depth"})
        i = InstrumentId(instrument)
        data = views.book_view(
            venue.books[i], depth, venue.book_phase[i], venue.last_price.get(i),
            venue.reference(i),
        )  # fmt: skip
        return answer(data, request_id)

    async def instruments(self, request: Request, request_id: str) -> Response:
        listed = self.exchange.venue.instruments.values()
        return answer([views.instrument_view(i) for i in listed], request_id)


def _game_ns(text: str) -> int:
    """An ISO 8601 moment with its zone (`2026-12-01T14:30:00Z`) as game nanoseconds."""
    try:
        moment = dt.datetime.fromisoformat(text) if len(text) <= 40 else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        message = "since must be an ISO 8601 time with its zone, e.g. 2026-12-01T14:30:00Z"
        raise ApiError("INVALID_FIELD", message, {"field": "since"})
    return (moment - EPOCH) // dt.timedelta(microseconds=1) * 1000
