"""What a team holds and has working: the inputs of a `ValidationContext`.

The validator checks the worst case (SPEC section 3): a position plus every open order on
the same side. This module gathers those numbers from the venue (open orders) and the
ledger (positions) for one request, in time proportional to what the team holds.
"""

from __future__ import annotations

from collections.abc import Mapping

from exchange.domain.instruments import Instrument
from exchange.domain.orders import NewOrder, NewQuote, Order
from exchange.domain.positions import Account
from exchange.domain.types import InstrumentId, Phase, Role, Side, Ticks
from exchange.domain.validation import ValidationContext


def open_by_instrument(orders: list[Order]) -> dict[InstrumentId, list[int]]:
    """Resting [buy, sell] quantity per instrument."""
    out: dict[InstrumentId, list[int]] = {}
    for o in orders:
        pair = out.setdefault(o.instrument_id, [0, 0])
        pair[o.side is Side.SELL] += o.remaining
    return out


def worst_case(position: int, open_buy: int, open_sell: int) -> int:
    """The largest |position| the team could reach if its open orders all filled."""
    return max(abs(position + open_buy), abs(position - open_sell))


def build_context(
    request: NewOrder | NewQuote,
    *,
    role: Role,
    phase: Phase,
    now_ns: int,
    instruments: Mapping[InstrumentId, Instrument],
    account: Account,
    open_orders: list[Order],
    replacing: tuple[int, ...] = (),
    orders_in_window: int,
    reference_price: Ticks | None,
) -> ValidationContext:
    """The context one request is validated in. `replacing` names the order ids a quote
    would cancel first, so its worst case does not count them twice."""
    working = [o for o in open_orders if o.order_id not in replacing] if replacing else open_orders
    opened = open_by_instrument(working)
    target = request.instrument_id
    open_buy, open_sell = opened.get(target, (0, 0))
    return ValidationContext(
        order=request,
        role=role,
        phase=phase,
        now_ns=now_ns,
        instrument=instruments.get(target),
        position=account.positions.get(target, 0),
        open_buy=open_buy,
        open_sell=open_sell,
        portfolio_other=_portfolio_other(target, instruments, account, opened),
        orders_in_window=orders_in_window,
        reference_price=reference_price,
    )


def _portfolio_other(
    target: InstrumentId,
    instruments: Mapping[InstrumentId, Instrument],
    account: Account,
    opened: dict[InstrumentId, list[int]],
) -> int:
    """Worst-case |exposure| summed over the team's other options."""
    held = set(opened) | {i for i, q in account.positions.items() if q}
    total = 0
    for inst in held:
        instrument = instruments.get(inst)
        if inst == target or instrument is None or not instrument.is_option:
            continue
        buy, sell = opened.get(inst, (0, 0))
        total += worst_case(account.positions.get(inst, 0), buy, sell)
    return total
