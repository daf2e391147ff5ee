"""What a team holds and has working: the inputs of a `ValidationContext`.

The validator checks the worst case (SPEC section 3): a position plus every open order on
the same side. This module gathers those numbers from the venue (open orders) and the
ledger (positions) for one request, in time proportional to what the team holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from exchange.domain.instruments import Instrument
from exchange.domain.orders import NewOrder, NewQuote, Order
from exchange.domain.positions import Account
from exchange.domain.types import InstrumentId, Phase, Role, Side, Ticks
from exchange.domain.validation import ValidationContext


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
    opened: Mapping[InstrumentId, Sequence[int]],
    orders_in_window: int,
    reference_price: Ticks | None,
    portfolio: bool = True,
) -> ValidationContext:
    """The context one request is validated in; `opened` is the team's resting
    [buy, sell] quantity per instrument (see `working_exposure`). `portfolio=False`
    skips summing the other options' exposure (for a role with no portfolio limit: the
    one part whose cost grows with what the team holds)."""
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
        portfolio_other=_portfolio_other(target, instruments, account, opened) if portfolio else 0,
        orders_in_window=orders_in_window,
        reference_price=reference_price,
    )


def working_exposure(
    resting: Mapping[InstrumentId, Sequence[int]],
    pending: Sequence[Order] = (),
    replacing: Sequence[Order] = (),
) -> Mapping[InstrumentId, Sequence[int]]:
    """Resting exposure plus orders on their way to a book, less the quote legs a new
    quote replaces. Copies only when there is something to add or take away."""
    if not pending and not replacing:
        return resting
    out: dict[InstrumentId, Sequence[int]] = dict(resting)
    copied: dict[InstrumentId, list[int]] = {}
    for o, sign in [(o, 1) for o in pending] + [(o, -1) for o in replacing]:
        pair = copied.get(o.instrument_id)
        if pair is None:  # copy only the pairs that change
            pair = copied[o.instrument_id] = list(out.get(o.instrument_id, (0, 0)))
            out[o.instrument_id] = pair
        pair[o.side is Side.SELL] += sign * o.remaining
    return out


def _portfolio_other(
    target: InstrumentId,
    instruments: Mapping[InstrumentId, Instrument],
    account: Account,
    opened: Mapping[InstrumentId, Sequence[int]],
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
