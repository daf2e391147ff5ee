"""The scenario file: one game, written down so it can be played again, exactly.

A scenario is YAML (see `docs/scenarios.md` for the full reference):

    name: quiet-day
    seed: 7                      # the game's one seed
    preset: demo                 # optional base preset, then `config` merged on top
    config: {market: {model: {news: {mean_interval_seconds: 7200}}}}
    start: "2026-12-01T08:00:00-06:00"
    duration: "8h"               # or seconds; the game runs from start for this long
    step_seconds: 5              # strategies see the market every step of game time
    participants:
      - team: Maker One
        role: market_maker
        strategy: bots.market_maker:MarketMaker     # module:Class, params as keywords
        params: {levels: 5}
      - team: Script desk        # no strategy: acts only through the script
        role: hedge_fund
    script:
      - {at: "08:04:40", team: Script desk, action: order, instrument: SPX,
         side: buy, quantity: 5, price: 4401.00}
    news:
      - {at: "11:00:00", headline: "Fed surprises markets"}
    expect:
      min_trades: 100
      invariants: true
      teams: {Maker One: {min_pnl: -2000, kpis: {uptime: [0.8, 1.0]}}}
      digest: "..."              # written by `replay --update`

Times in `script`, `news` and `until` are times of day on the scenario's first day
(the start's timezone), or full ISO timestamps, or offsets from the start ("+90s",
"+1h30m").
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Literal

import msgspec

from exchange.domain.types import Role, Side

DURATION = re.compile(r"^\+?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
FRACTIONAL = re.compile(r"^\+\d+\.\d+s$")
"""An offset with a fraction of a second ("+12.345s"), as recorded games write them."""


class Participant(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    team: str
    role: Role
    strategy: str | None = None
    """`module:Class` of a `TradingStrategy`; none for a team driven by the script."""
    params: dict[str, Any] = {}


class ScriptedAction(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    at: str
    team: str
    action: Literal["order", "quote", "cancel", "cancel_all"] = "order"
    instrument: str | None = None
    side: Side | None = None
    quantity: int | None = None
    price: float | None = None
    """No price: a market order."""
    bid_price: float | None = None
    bid_quantity: int | None = None
    ask_price: float | None = None
    ask_quantity: int | None = None
    ref: str | None = None
    """A name for the order (or a quote's legs, "bid+ask"), so a later `cancel` can
    name it; a `cancel` needs one."""

    def __post_init__(self) -> None:
        if self.action == "cancel" and not self.ref:
            raise ValueError(f"a scripted cancel at {self.at} needs the `ref` of an order")


class ScriptedNews(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    at: str
    headline: str


class TeamExpectation(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    min_pnl: float | None = None
    max_pnl: float | None = None
    min_trades: int | None = None
    max_trades: int | None = None
    kpis: dict[str, tuple[float, float]] = {}
    """KPI name -> [low, high], both inclusive."""


class Expectations(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    digest: str | None = None
    invariants: bool = True
    min_trades: int | None = None
    max_trades: int | None = None
    teams: dict[str, TeamExpectation] = {}
    max_rejections: dict[str, int] = {}
    """Rejection code -> the most allowed over the whole game."""
    min_rejections: dict[str, int] = {}


class Scenario(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    seed: int = 1
    description: str = ""
    preset: str | None = None
    config: dict[str, Any] = {}
    start: dt.datetime | None = None
    """Default: the config's clock start."""
    duration: str | int = "8h"
    step_seconds: int = 5
    participants: list[Participant] = []
    script: list[ScriptedAction] = []
    news: list[ScriptedNews] = []
    expect: Expectations = Expectations()

    def __post_init__(self) -> None:
        names = [p.team for p in self.participants]
        if len(set(names)) != len(names):
            raise ValueError("participants: team names must be unique")
        if self.step_seconds < 1:
            raise ValueError("step_seconds must be at least 1")
        unknown = {a.team for a in self.script} - set(names)
        if unknown:
            raise ValueError(f"script: teams not among the participants: {sorted(unknown)}")
        seconds(self.duration)


def seconds(value: str | int) -> int:
    """A duration: whole seconds, or "1h30m", "90s", "+2h"."""
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"a duration cannot be negative: {value}")
        return value
    match = DURATION.match(value.strip())
    if match is None or not any(match.groups()):
        raise ValueError(f"not a duration: {value!r} (say e.g. 8h, 90m, 45s or 1h30m)")
    h, m, s = (int(g or 0) for g in match.groups())
    return h * 3600 + m * 60 + s


def moment(text: str, start: dt.datetime) -> dt.datetime:
    """A scenario time: an offset from the start, a time of the first day, or ISO."""
    text = text.strip()
    if FRACTIONAL.match(text):
        return start + dt.timedelta(seconds=float(text[1:-1]))
    if text.startswith("+"):
        return start + dt.timedelta(seconds=seconds(text))
    try:
        of_day = dt.time.fromisoformat(text)
    except ValueError:
        pass
    else:
        return dt.datetime.combine(start.date(), of_day, start.tzinfo)
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a time: {text!r} (HH:MM[:SS], +offset or ISO)") from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file; ValueError names the file and what is wrong."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return msgspec.convert(msgspec.yaml.decode(data), Scenario)
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None
