"""The listed instruments: underlyings and their weekly option chains (SPEC section 2).

An option's id spells what it is, `SPX_CALL_4400_20261204`: underlying, kind, strike,
expiry (yyyymmdd). Strikes are listed around spot at listing time, denser near the
money; a new weekly is listed as the nearest one expires, so `listed_count` stay listed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal

import msgspec

from exchange.domain.ticks import TICKS_PER_UNIT, to_decimal
from exchange.domain.types import InstrumentId, OptionKind, Ticks

OPTION_MULTIPLIER = 100


class Instrument(msgspec.Struct, frozen=True, gc=False):
    id: InstrumentId
    underlying: str
    kind: OptionKind | None = None
    """None for an underlying itself."""
    strike: Ticks | None = None
    expiry: dt.date | None = None
    multiplier: int = 1

    @property
    def is_option(self) -> bool:
        return self.kind is not None


class UnderlyingSpec(msgspec.Struct, frozen=True):
    """How one underlying's chain is built: strikes = spot x moneyness, rounded to a step."""

    symbol: str
    initial_price: float
    strike_step: float


# SPX at 4400 gives 3080 ... 5720: about +-30% of spot, denser near the money.
DEFAULT_MONEYNESS: tuple[float, ...] = (
    0.70, 0.75, 0.80, 0.85, 0.90, 0.95, 0.975, 1.0,
    1.025, 1.05, 1.10, 1.15, 1.20, 1.25, 1.30,
)  # fmt: skip


class ChainSpec(msgspec.Struct, frozen=True):
    underlyings: tuple[UnderlyingSpec, ...] = (
        UnderlyingSpec("SPX", 4400.0, 10.0),
        UnderlyingSpec("SPY", 440.0, 1.0),
    )
    moneyness: tuple[float, ...] = DEFAULT_MONEYNESS
    expiry_weekday: int = 4
    """Weeklies expire on this weekday (Monday is 0); Friday by default."""
    listed_expiries: int = 4


def format_strike(strike: int) -> str:
    text = format(to_decimal(strike).normalize(), "f")
    return text


def option_id(underlying: str, kind: OptionKind, strike: int, expiry: dt.date) -> InstrumentId:
    return InstrumentId(f"{underlying}_{kind.value}_{format_strike(strike)}_{expiry:%Y%m%d}")


def parse_instrument_id(text: str) -> Instrument:
    """Rebuild an option (or an underlying) from its id; raise ValueError if malformed."""
    parts = text.split("_")
    if len(parts) == 1:
        if not parts[0].isalpha() or not parts[0].isupper():
            raise ValueError(f"not an instrument id: {text!r}")
        return Instrument(InstrumentId(text), text)
    if len(parts) != 4:
        raise ValueError(f"not an instrument id: {text!r}")
    underlying, kind_text, strike_text, expiry_text = parts
    kind = OptionKind(kind_text)
    strike_value = Decimal(strike_text) * TICKS_PER_UNIT
    if strike_value <= 0 or strike_value != strike_value.to_integral_value():
        raise ValueError(f"bad strike in {text!r}")
    expiry = dt.datetime.strptime(expiry_text, "%Y%m%d").date()
    strike = Ticks(int(strike_value))
    if option_id(underlying, kind, strike, expiry) != text:
        raise ValueError(f"not a canonical instrument id: {text!r}")
    return make_option(underlying, kind, strike, expiry)


def make_option(underlying: str, kind: OptionKind, strike: int, expiry: dt.date) -> Instrument:
    return Instrument(
        id=option_id(underlying, kind, strike, expiry),
        underlying=underlying,
        kind=kind,
        strike=Ticks(strike),
        expiry=expiry,
        multiplier=OPTION_MULTIPLIER,
    )


def weekly_expiries(today: dt.date, weekday: int, count: int) -> list[dt.date]:
    """The next `count` expiry dates on `weekday`, today included if it is one."""
    first = today + dt.timedelta(days=(weekday - today.weekday()) % 7)
    return [first + dt.timedelta(weeks=n) for n in range(count)]


def strikes_around(spot: float, step: float, moneyness: Iterable[float]) -> list[Ticks]:
    """Strikes near spot x moneyness, rounded to the step, without duplicates, ascending."""
    step_ticks = round(step * TICKS_PER_UNIT)
    strikes = {round(spot * m * TICKS_PER_UNIT / step_ticks) * step_ticks for m in moneyness}
    return [Ticks(s) for s in sorted(strikes) if s > 0]


def build_chain(
    spec: ChainSpec, today: dt.date, spots: dict[str, float] | None = None
) -> list[Instrument]:
    """Underlyings first, then every option: by underlying, expiry, strike, call before put."""
    instruments = [Instrument(InstrumentId(u.symbol), u.symbol) for u in spec.underlyings]
    expiries = weekly_expiries(today, spec.expiry_weekday, spec.listed_expiries)
    for u in spec.underlyings:
        spot = (spots or {}).get(u.symbol, u.initial_price)
        instruments.extend(options_for(u, spot, expiries, spec.moneyness))
    return instruments


def options_for(
    u: UnderlyingSpec, spot: float, expiries: Sequence[dt.date], moneyness: Iterable[float]
) -> list[Instrument]:
    strikes = strikes_around(spot, u.strike_step, moneyness)
    return [
        make_option(u.symbol, kind, strike, expiry)
        for expiry in expiries
        for strike in strikes
        for kind in (OptionKind.CALL, OptionKind.PUT)
    ]


def intrinsic_value(instrument: Instrument, underlying_price: int) -> Ticks:
    """Settlement value per unit in ticks; for an underlying, its price."""
    if instrument.kind is None or instrument.strike is None:
        return Ticks(underlying_price)
    if instrument.kind is OptionKind.CALL:
        return Ticks(max(underlying_price - instrument.strike, 0))
    return Ticks(max(instrument.strike - underlying_price, 0))
