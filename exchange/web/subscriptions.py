"""Which books' `market_data` and `trade` prints a `/ws` connection receives.

A connection starts with every book, or with the books of `?instruments=` and
`?underlyings=` (ids separated by commas). On the socket it may send
`{"type": "subscribe" | "unsubscribe", "instruments": [...], "underlyings": [...]}`:
the answer is `subscribed` with the set now in force, or `error` (nothing changed). An
underlying names the underlying itself and every option on it. The team's own stream
messages (acks, fills, ...) and the other broadcasts keep coming to every connection;
`trade` messages with no print of its books are skipped (`Fanout._next`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import msgspec

from exchange.domain.venue import ExchangeVenue
from exchange.pipeline.fanout import Books
from exchange.wire.messages import StreamError, Subscribed, SubscribeRequest

SHOWN = 5
"""Unknown ids named in an error message; the rest are counted."""
_decoder = msgspec.json.Decoder(SubscribeRequest)


def ids(text: str | None) -> list[str]:
    """The ids of a comma-separated query parameter."""
    return [] if text is None else [part.strip() for part in text.split(",") if part.strip()]


def unknown(venue: ExchangeVenue, instruments: Iterable[str], underlyings: Iterable[str]) -> str:
    """What in the request is not listed, as a sentence; empty when everything is."""
    listed = venue.instruments
    bases = {i.underlying for i in listed.values()}
    missing = [i for i in instruments if i not in listed]
    missing += [u for u in underlyings if u not in bases]
    if not missing:
        return ""
    more = f" and {len(missing) - SHOWN} more" if len(missing) > SHOWN else ""
    return "unknown instrument or underlying: " + ", ".join(missing[:SHOWN]) + more


def from_query(venue: ExchangeVenue, params: Mapping[str, str]) -> tuple[Books | None, str]:
    """The books a connection asks for as it connects (None: every book), or why not."""
    if "instruments" not in params and "underlyings" not in params:
        return None, ""
    instruments, underlyings = ids(params.get("instruments")), ids(params.get("underlyings"))
    refusal = unknown(venue, instruments, underlyings)
    return (None, refusal) if refusal else (Books(set(instruments), set(underlyings)), "")


def change(
    venue: ExchangeVenue, books: Books | None, text: str | bytes
) -> tuple[Books | None, StreamError | None]:
    """The books after a client's message, or the error that leaves them as they were."""
    try:
        request = _decoder.decode(text)
    except msgspec.DecodeError as exc:
        code = "INVALID_FIELD" if isinstance(exc, msgspec.ValidationError) else "INVALID_JSON"
        return books, StreamError(code, f"expected a subscribe or unsubscribe message: {exc}")
    if request.type not in ("subscribe", "unsubscribe"):
        message = "type must be subscribe, unsubscribe, new_order, quote, cancel or cancel_all"
        return books, StreamError("INVALID_FIELD", message)
    if not request.instruments and not request.underlyings:
        return books, StreamError("INVALID_FIELD", "name at least one instrument or underlying")
    refusal = unknown(venue, request.instruments, request.underlyings)
    if refusal:
        return books, StreamError("INVALID_INSTRUMENT", refusal)
    if request.type == "subscribe":
        now = Books(set(), set()) if books is None else books
        return Books(now.instruments | set(request.instruments),
                     now.underlyings | set(request.underlyings)), None  # fmt: skip
    if books is None:
        return books, StreamError(
            "INVALID_FIELD", "this connection receives every book: subscribe to some first"
        )
    return Books(books.instruments - set(request.instruments),
                 books.underlyings - set(request.underlyings)), None  # fmt: skip


def confirmation(books: Books | None) -> Subscribed:
    if books is None:
        return Subscribed(True, [], [])
    return Subscribed(False, sorted(books.instruments), sorted(books.underlyings))
