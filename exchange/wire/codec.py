"""Bytes in, typed values out, and back: the one place input is judged malformed.

A `msgspec.ValidationError` names the JSON path that failed; the path picks the error
code (`$.quantity` -> INVALID_QUANTITY) and goes into `details`, so a bot author sees
exactly which field was wrong. Prices become integer ticks here or fail: never rounded.

A key given twice is refused (400 INVALID_FIELD) rather than letting the last one win
unseen, which msgspec cannot be told to do. The check is cheap on the order path: a
body without backslashes or nested objects can repeat a key only by spelling
`"name"` twice, so the quoted field names are found with one regular expression; only
a body where one shows twice, or that escapes or nests, is parsed again with the
standard library to know for sure.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import time
from typing import Any, TypeVar

import msgspec

from exchange.domain.ticks import PriceError, to_price, to_ticks
from exchange.domain.types import Ticks
from exchange.wire.errors import ApiError
from exchange.wire.models import Envelope, ErrorBody

T = TypeVar("T")

FIELD_CODES = {
    "quantity": "INVALID_QUANTITY",
    "bid_quantity": "INVALID_QUANTITY",
    "ask_quantity": "INVALID_QUANTITY",
    "price": "INVALID_PRICE",
    "bid_price": "INVALID_PRICE",
    "ask_price": "INVALID_PRICE",
    "side": "INVALID_SIDE",
    "instrument_id": "INVALID_INSTRUMENT",
}
_PATH = re.compile(r" - at `\$\.?([A-Za-z_]*)")
_NAMED = re.compile(r"field `([^`]{0,64})`")

_decoders: dict[type, msgspec.json.Decoder[Any]] = {}
_field_names: dict[type, re.Pattern[bytes]] = {}
encoder = msgspec.json.Encoder()


def decode(body: bytes, kind: type[T]) -> T:
    """Decode a request body or raise ApiError (400) naming the field at fault."""
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = _decoders[kind] = msgspec.json.Decoder(kind)
    try:
        value = decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise invalid(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise ApiError("INVALID_JSON", f"the body is not valid JSON: {exc}") from None
    if (key := repeated_key(body, kind)) is not None:
        raise ApiError(
            "INVALID_FIELD", f"the field {key!r} is given more than once", {"field": key}
        )
    return value  # type: ignore[no-any-return]


def repeated_key(body: bytes, kind: type) -> str | None:
    """A key that some object in `body` (valid JSON) has twice, or None."""
    names = _field_names.get(kind)
    if names is None:
        names = _field_names[kind] = _names_pattern(kind)
    if b"\\" not in body and body.count(b"{") <= 1:
        found = names.findall(body)
        if len(found) == len(set(found)):
            return None
    return _first_repeat(body)


def _names_pattern(kind: type) -> re.Pattern[bytes]:
    """Matches a quoted field name of `kind` (or nothing, for a type without fields)."""
    struct = isinstance(kind, type) and issubclass(kind, msgspec.Struct)
    fields = msgspec.structs.fields(kind) if struct else ()
    alternatives = "|".join(re.escape(f.encode_name) for f in fields) or "(?!)"
    return re.compile(f'"(?:{alternatives})"'.encode())


def _first_repeat(body: bytes) -> str | None:
    repeats: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> None:
        keys = [k for k, _ in items]
        repeats.extend(k for i, k in enumerate(keys) if k in keys[:i])

    try:
        json.loads(body, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return None
    return repeats[0] if repeats else None


def invalid(text: str) -> ApiError:
    match = _PATH.search(text)
    field = match.group(1) if match else ""
    if not field and text.startswith("Expected `object`"):
        return ApiError("INVALID_JSON", "the body must be a JSON object")
    if not field and (named := _NAMED.search(text)):
        # "Object contains unknown field `x`", "Object missing required field `x`".
        return ApiError("INVALID_FIELD", text, {"field": named.group(1)})
    code = FIELD_CODES.get(field, "INVALID_FIELD")
    details = {"field": field} if field else {}
    return ApiError(code, text, details)


def price_ticks(value: float, field: str = "price") -> Ticks:
    """A decimal price on the 0.01 grid, as ticks; ApiError(INVALID_PRICE) otherwise."""
    try:
        return to_ticks(value)
    except PriceError as exc:
        raise ApiError("INVALID_PRICE", str(exc), {"field": field}) from None


def price_out(ticks: int | None) -> float | None:
    return None if ticks is None else to_price(ticks)


def whole_number(text: str, max_digits: int = 18) -> int | None:
    """A non-negative integer written in ASCII digits, else None. (`str.isdigit` alone
    also passes '²' and '٣', which `int` then refuses or reads: neither is an id here.)"""
    if text.isascii() and text.isdigit() and len(text) <= max_digits:
        return int(text)
    return None


def parse_order_id(text: str) -> int | None:
    """Order ids travel as decimal strings; anything else names no order."""
    return whole_number(text)


class _TurnStamp:
    """The wall-clock time of the event loop's current turn, as text.

    Every answer and stream message carries a timestamp, and a busy turn of the loop
    answers many requests: reading the clock and formatting it once per turn (on its
    first use, forgotten when the loop next turns) saves that work for all but one.
    The formatting itself keeps the text of the current second and adds only the
    microseconds (a third of the cost of `datetime.now().strftime`)."""

    __slots__ = ("loop", "second", "text")

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.text = ""
        self.second: tuple[int, str] = (-1, "")
        """A second since the epoch and its text up to the seconds."""

    def now(self) -> str:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return self.read()  # no loop, no turn to share
        if loop is not self.loop:
            self.text = self.read()
            self.loop = loop
            loop.call_soon(self.forget)  # runs in the next turn, not this one
        return self.text

    def read(self) -> str:
        second, micros = divmod(time.time_ns() // 1000, 1_000_000)
        known = self.second
        if known[0] != second:
            known = self.second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return f"{known[1]}.{micros:06d}Z"

    def forget(self) -> None:
        self.loop = None


_stamp = _TurnStamp()


def utc_now() -> str:
    """Now, in UTC (`2026-12-01T14:30:00.123456Z`): one reading per turn of the loop."""
    return _stamp.now()


def iso(moment: dt.datetime) -> str:
    text = moment.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return text[:-6] + "Z"  # "+00:00" as "Z"


def game_time(ns: int) -> str:
    return iso(dt.datetime.fromtimestamp(ns / 1e9, dt.UTC))


def ok(data: Any, request_id: str, order_id: str | None = None) -> bytes:
    return encoder.encode(Envelope(True, request_id, utc_now(), data, None, order_id))


def failed(error: ApiError, request_id: str) -> bytes:
    body = ErrorBody(error.code, error.message, error.details)
    return encoder.encode(Envelope(False, request_id, utc_now(), None, body))
