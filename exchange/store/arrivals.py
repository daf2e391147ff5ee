"""The arrivals log: every operation that changed the venue, as rows, in the venue's order.

How it works. All the server's matcher tasks share one event loop, so the moment each one
calls the venue is a total order: `ArrivalLog` numbers the calls (`seq`) as they are
made and turns each into a row of the `arrivals` table. A row travels to the database
with the outcome it caused (matcher -> publisher -> writer, like the trades), so a
committed prefix of the log holds exactly the committed trades. `replay game.db`
(`exchange.replay.logged`) applies the rows again in seq order to a fresh venue.

Only what changed a book is logged: an order or quote the venue placed (under the ids the
validator reserved), a cancel or cancel-all that cancelled something, every phase step
(with the reference price and halt that decide an auction's uncross), an expiry (with
the value it settled at), a listing or delisting, and the start of each run of the
server (a restart begins with fresh books, the ids it resumes from and its phase). What
the venue refused changed nothing and is not logged.
"""

from __future__ import annotations

from typing import Any

import msgspec

from exchange.domain.instruments import Instrument
from exchange.domain.orders import NewOrder, NewQuote
from exchange.domain.types import CancelReason, InstrumentId, OrderId, Phase, TeamId, Ticks, TimeNs
from exchange.store.rows import ArrivalRow

KINDS = ("run", "order", "quote", "cancel", "cancel_all", "phase", "expire", "list", "delist")
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class ArrivalLog:
    """Hands out seqs in call order and makes the rows; a log that is not `on` (a game
    without a database) makes none and returns None."""

    __slots__ = ("_next", "on")

    def __init__(self, on: bool = True, first: int = 1) -> None:
        self.on = on
        self._next = first

    def resume(self, first: int) -> None:
        self._next = first

    def _row(
        self,
        ts_ns: TimeNs,
        kind: str,
        team_id: str | None,
        instrument_id: str | None,
        payload: object,
    ) -> ArrivalRow | None:
        if not self.on:
            return None
        seq = self._next
        self._next = seq + 1
        return (seq, ts_ns, kind, team_id, instrument_id, _encode(payload).decode())

    def run(self, ts_ns: TimeNs, phase: Phase, trade_id: int) -> ArrivalRow | None:
        """A run of the server starts: fresh books in `phase`, trade ids from `trade_id`."""
        return self._row(ts_ns, "run", None, None, {"phase": phase.value, "trade_id": trade_id})

    def order(self, ts_ns: TimeNs, r: NewOrder, order_id: OrderId) -> ArrivalRow | None:
        payload = [order_id, r.side.value, r.quantity, r.price, r.order_type.value,
                   r.client_order_id]  # fmt: skip
        return self._row(ts_ns, "order", r.team_id, r.instrument_id, payload)

    def quote(
        self, ts_ns: TimeNs, q: NewQuote, order_ids: tuple[OrderId, ...]
    ) -> ArrivalRow | None:
        payload = [*order_ids, q.bid_price, q.bid_quantity, q.ask_price, q.ask_quantity]
        return self._row(ts_ns, "quote", q.team_id, q.instrument_id, payload)

    def cancel(
        self, ts_ns: TimeNs, team_id: TeamId, instrument_id: InstrumentId, order_id: OrderId
    ) -> ArrivalRow | None:
        return self._row(ts_ns, "cancel", team_id, instrument_id, order_id)

    def cancel_all(
        self, ts_ns: TimeNs, team_id: TeamId, instrument_id: InstrumentId, reason: CancelReason
    ) -> ArrivalRow | None:
        return self._row(ts_ns, "cancel_all", team_id, instrument_id, reason.value)

    def phase(
        self,
        ts_ns: TimeNs,
        instrument_id: InstrumentId,
        phase: Phase,
        reference: Ticks | None,
        halted: bool,
    ) -> ArrivalRow | None:
        """A book enters a phase; `reference` and `halted` as they were before it did."""
        return self._row(ts_ns, "phase", None, instrument_id, [phase.value, reference, halted])

    def expire(
        self, ts_ns: TimeNs, instrument_id: InstrumentId, value: Ticks
    ) -> ArrivalRow | None:
        return self._row(ts_ns, "expire", None, instrument_id, value)

    def listed(
        self, ts_ns: TimeNs, phase: Phase, instruments: list[Instrument]
    ) -> ArrivalRow | None:
        payload = {"phase": phase.value, "instruments": msgspec.to_builtins(instruments)}
        return self._row(ts_ns, "list", None, None, payload)

    def delisted(self, ts_ns: TimeNs, instrument_id: InstrumentId) -> ArrivalRow | None:
        return self._row(ts_ns, "delist", None, instrument_id, None)


# -- reading them back ------------------------------------------------------------------


class Arrival(msgspec.Struct, frozen=True):
    """One stored row, its payload decoded."""

    seq: int
    ts_ns: TimeNs
    kind: str
    team_id: TeamId | None
    instrument_id: InstrumentId | None
    payload: Any


def arrival_from_row(row: tuple[Any, ...]) -> Arrival:
    seq, ts_ns, kind, team_id, instrument_id, payload = row
    return Arrival(seq, TimeNs(ts_ns), kind, team_id, instrument_id, _decode(payload))


def instruments_of(payload: Any) -> list[Instrument]:
    """The instruments of a `list` arrival."""
    return msgspec.convert(payload["instruments"], list[Instrument])
