"""Replay: a whole game played on a virtual clock, as fast as the machine goes.

How it works. One loop over game time in steps of `step_seconds`; each step, in order:
1. the trading schedule's phase changes up to now (an opening auction uncrosses here);
2. the market ticks whose start has passed are simulated, and each one is an
   observation for the scores (marks, deltas, who is quoting);
3. news, signals, scripted headlines and scripted orders that fell due, in time order;
4. expiries whose moment has passed are settled at intrinsic value, the next weekly listed;
5. every strategy sees one market snapshot (tops, fair values, deltas, spots) and its
   answers go straight through the same validation, books and ledger as the server's.

No wall clock, no threads, no I/O: the same scenario gives the same game, trade for
trade, on every run. The house (liquidity, options maker, retail) plays as strategies
of its own (`exchange.domain.house`), with its own seeded generator.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec
import numpy as np

from exchange.config import GameConfig, load_config, merge
from exchange.domain import house
from exchange.domain.instruments import Instrument, build_chain, intrinsic_value, options_for
from exchange.domain.orders import (
    CancelAll,
    CancelOrder,
    NewOrder,
    NewQuote,
    OrderResult,
    QuoteResult,
)
from exchange.domain.phases import from_ns, to_ns
from exchange.domain.positions import Fill
from exchange.domain.runner import StrategyRunner
from exchange.domain.scoring import Scorer, check_invariants
from exchange.domain.session import Executed, TradingSession
from exchange.domain.strategy import Action, MarketSnapshot, News, TradingStrategy
from exchange.domain.ticks import TICKS_PER_UNIT, to_ticks
from exchange.domain.types import (
    NS_PER_SECOND,
    InstrumentId,
    Liquidity,
    OrderId,
    OrderType,
    Phase,
    Role,
    Side,
    TeamId,
    Ticks,
    TimeNs,
)
from exchange.replay.market import ReplayMarket
from exchange.replay.quality import OptionTop, QualityTally, RetailCounts
from exchange.replay.record import Recorder
from exchange.replay.scenario import Scenario, ScriptedAction, moment, seconds
from exchange.replay.strategies import build_strategy

Progress = Callable[[int], object]
"""Told how many game seconds each step covered (a progress bar)."""
MAX_BREACHES = 10
"""Invariant breaches a report lists at most: the first ones show where it went wrong."""


def game_config(scenario: Scenario) -> GameConfig:
    overrides = merge(scenario.config, {"seed": scenario.seed})
    return load_config(preset=scenario.preset, overrides=overrides)


def team_id(n: int, name: str) -> TeamId:
    """Stable ids, so a report and a digest read the same on every run."""
    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    return TeamId(f"t{n:02d}-{slug}")


class Replay:
    def __init__(
        self,
        scenario: Scenario,
        swaps: Mapping[str, tuple[str, dict[str, Any]]] | None = None,
    ) -> None:
        self.scenario = scenario
        self.config = config = game_config(scenario)
        start = scenario.start or config.clock.start
        if start is None:
            raise ValueError("the scenario needs a start (or a config with clock.start)")
        self.start_at = start
        self.start, self.end = TimeNs(to_ns(start)), TimeNs(to_ns(start) + _duration(scenario))
        self.step_ns = scenario.step_seconds * NS_PER_SECOND
        seeds = np.random.SeedSequence(config.seed).spawn(4)
        self.schedule = config.schedule.build()
        tz = getattr(self.schedule, "tz", dt.UTC)
        instruments = build_chain(config.instruments, from_ns(self.start, tz).date())
        self.session = TradingSession(
            instruments, config.constraints(), config.fees(), np.random.default_rng(seeds[0]),
            self.schedule.phase_at(self.start),
        )  # fmt: skip
        self.venue = self.session.venue
        self.market = ReplayMarket(config, seeds[1], self.start)
        self.scorer = Scorer(self.venue.instruments, config.scoring)
        self.recorder = Recorder()
        self.tally = QualityTally()
        """Market quality: continuous trades and the option books at each observation."""
        self.retail = RetailCounts()
        self.runner = StrategyRunner(self.session, self.schedule, self.start, listener=self)
        self.names: dict[TeamId, str] = {}
        self.ids: dict[str, TeamId] = {}
        self.marks: dict[InstrumentId, Ticks] = {}
        self.broken: dict[str, str] = {}
        """Each invariant breach seen at an observation -> the game time it was first seen."""
        self.refs: dict[str, OrderId] = {}
        self._ref: str | None = None
        self._listed: list[Instrument] | None = None
        """The listed options, in listing order; None after the listing changed."""
        self._next_expiry: float = 0
        """No expiry falls before this game time (ns): `_expire` has nothing to do."""
        self._join_house()
        self._join_teams(swaps or {})
        self.script = self._script(set(swaps or {}))

    # -- set up -----------------------------------------------------------------------

    def _join(self, name: str, role: Role, strategy: TradingStrategy | None) -> None:
        tid = team_id(len(self.ids) + 1, name)
        self.ids[name], self.names[tid] = tid, name
        self.runner.add(tid, role, strategy)
        self.scorer.add_team(tid, name, role)

    def _join_house(self) -> None:
        m = self.config.market
        if not m.enabled:
            return
        teams = house.house_teams(
            self.market.streams.retail, m.model.retail, m.model.tick_seconds,
            liquidity=m.house_liquidity, options_maker=m.house_options_maker, crowd=m.retail,
        )  # fmt: skip
        scripted = {p.team for p in self.scenario.participants}
        for team in teams:
            if team.name not in scripted:  # a recorded game scripts its house teams itself
                self._join(team.name, team.role, team.strategy)

    def _join_teams(self, swaps: Mapping[str, tuple[str, dict[str, Any]]]) -> None:
        known = {p.team for p in self.scenario.participants}
        unknown = sorted(set(swaps) - known)
        if unknown:
            raise ValueError(f"--swap: no such team in the scenario: {', '.join(unknown)}")
        for p in self.scenario.participants:
            target, params = swaps.get(p.team, (p.strategy, p.params))
            strategy = None if target is None else build_strategy(target, params)
            self._join(p.team, p.role, strategy)

    def _script(self, swapped: set[str]) -> list[tuple[int, int, ScriptedAction | str]]:
        """Scripted orders and headlines in time order (the file's order among equals); a
        swapped team's bot replaces its script as well."""
        s, start = self.scenario, self.start_at
        items: list[tuple[int, int, ScriptedAction | str]] = []
        for n, a in enumerate(s.script):
            if a.team not in swapped:
                items.append((to_ns(moment(a.at, start)), n, a))
        for n, news in enumerate(s.news):
            items.append((to_ns(moment(news.at, start)), len(s.script) + n, news.headline))
        items.sort(key=lambda item: (item[0], item[1]))
        items.reverse()  # pop() from the end takes the earliest
        return items

    # -- the game loop ----------------------------------------------------------------

    def run(self, progress: Progress | None = None) -> Replay:
        now = self.start
        while now < self.end:
            step_to = TimeNs(min(self.end, now + self.step_ns))
            self.step(step_to)
            if progress is not None:
                progress((step_to - now) // NS_PER_SECOND)
            now = step_to
        self.observe(now)
        return self

    def step(self, now: TimeNs) -> None:
        self.runner.advance(now)
        for tick_start in self.market.ticks_due(now):
            if self.venue.phase is not Phase.CLOSED:
                self.market.simulate(tick_start)
            self.observe(now)
        self._deliver(now)
        self._expire(now)
        pricing = self.market.pricing(now, self.options())
        self.venue.reference_price.update(pricing.fair)
        market = self.runner.snapshot(now, pricing)
        self.marks = _marks(market)
        self.runner.show(market)

    def _deliver(self, now: TimeNs) -> None:
        while self.script and self.script[-1][0] <= now:
            _, _, item = self.script.pop()
            if isinstance(item, str):
                self.market.announce(item, now)
            else:
                self._act(item)
        for due in self.market.deliveries(now):
            if isinstance(due, News):
                self.scorer.on_news(due.ts_ns, due.headline)
                self.recorder.news(due)
                self.runner.news(due)
            else:
                role, signal = due
                self.scorer.on_signal(role, signal.ts_ns, signal.kind)
                self.recorder.signal(role, signal)
                self.runner.signal(role, signal)

    def _act(self, a: ScriptedAction) -> None:
        """A scripted request; an order's `ref` names the ids it gets, for a later cancel."""
        team = self.ids[a.team]
        if a.action == "cancel":
            order_id = self.refs.pop(a.ref or "", None)
            if order_id is not None:  # else it never rested here: nothing to cancel
                self.runner.act(team, [CancelOrder(team, order_id)])
            return
        self._ref = a.ref
        try:
            self.runner.act(team, [self._scripted(a)])
        finally:
            self._ref = None

    def _scripted(self, a: ScriptedAction) -> Action:
        team = self.ids[a.team]
        instrument = InstrumentId(a.instrument or "")
        if a.action == "cancel_all":
            return CancelAll(team, InstrumentId(a.instrument) if a.instrument else None)
        if a.action == "quote":
            return NewQuote(
                team, instrument, _ticks(a.bid_price), a.bid_quantity or 0,
                _ticks(a.ask_price), a.ask_quantity or 0,
            )  # fmt: skip
        kind = OrderType.MARKET if a.price is None else OrderType.LIMIT
        price = None if a.price is None else _ticks(a.price)
        return NewOrder(team, instrument, a.side or Side.BUY, a.quantity or 0, price, kind)

    def options(self) -> list[Instrument]:
        """The listed options, built again only after an expiry changed the listing."""
        if self._listed is None:
            self._listed = [i for i in self.venue.instruments.values() if i.is_option]
        return self._listed

    def _expire(self, now: TimeNs) -> None:
        """Settle every expiry whose moment has passed, then list the next weekly."""
        if now < self._next_expiry:
            return
        options = self.options()
        dates = sorted({i.expiry for i in options if i.expiry is not None})
        for date in dates:
            at = TimeNs(self.market.expiry_ns(date))
            if at > now:
                break
            spots = self.market.spot_ticks(at)
            for option in [i for i in options if i.expiry == date]:
                self.venue.expire(option.id, at)
                value = intrinsic_value(option, spots[option.underlying])
                for settled in self.session.ledger.settle(option.id, value, at):
                    self.scorer.on_settlement(settled)
                self.venue.delist(option.id)
            self._listed = None
            self._list(dates[-1] + dt.timedelta(weeks=1), now)
            self._listed = None
        left = {i.expiry for i in self.options() if i.expiry is not None}
        self._next_expiry = min((self.market.expiry_ns(d) for d in left), default=float("inf"))

    def _list(self, date: dt.date, now: TimeNs) -> None:
        chain, spots = self.config.instruments, self.market.cache.spots(now)
        new: list[Instrument] = []
        for u in chain.underlyings:
            new += options_for(u, spots.get(u.symbol, u.initial_price), [date], chain.moneyness)
        added = self.venue.list_instruments(new)
        self.scorer.list_instruments(added)
        for strategy in self.runner.strategies.values():
            if isinstance(strategy, house.HouseStrategy):
                strategy.on_listed(added)

    def observe(self, now: TimeNs) -> None:
        """One scoring observation: marks, option deltas, spots and who quotes what."""
        options = self.options()
        pricing = self.market.pricing(now, options)
        market = self.runner.snapshot(now, pricing)
        marks = _marks(market)
        self.marks = marks
        quoted = {t: self.venue.two_sided(t) for t, r in self.session.roles.items()
                  if r is Role.MARKET_MAKER}  # fmt: skip
        self.scorer.observe(now, marks, pricing.delta, pricing.spots, quoted)
        if market.phase is Phase.CONTINUOUS:
            self.tally.sample(_option_tops(options, market))
        self.check_invariants(now)

    def check_invariants(self, now: TimeNs) -> None:
        """SPEC section 7's invariants hold at every moment, so they are checked at every
        observation (the last one closes the day): the ledger, the scorer's mirror and the
        two against each other. Each breach is kept once, with when it was first seen."""
        if len(self.broken) >= MAX_BREACHES:
            return
        ledger = self.session.ledger
        problems = check_invariants(ledger) + self.scorer.invariants()
        problems += self.scorer.compare_with(ledger)
        moment = dt.datetime.fromtimestamp(now / NS_PER_SECOND, self.start_at.tzinfo).isoformat()
        for problem in problems[: MAX_BREACHES - len(self.broken)]:
            self.broken.setdefault(problem, moment)

    # -- RunnerListener ---------------------------------------------------------------

    def executed(
        self, team_id: TeamId, action: Action, outcome: Executed | None, now: TimeNs
    ) -> None:
        if outcome is None:
            return
        result = outcome.result
        if self.session.roles.get(team_id) is Role.RETAIL:
            self.retail.answered(result.error_code)
        if result.error_code is not None:
            message = result.error_message or ""
            self.scorer.on_rejection(team_id, now, result.error_code, None, message)
            self.recorder.rejection(team_id, result.error_code)
        elif isinstance(action, NewOrder | NewQuote):
            self.scorer.on_order(team_id, now, action.instrument_id)
            if self._ref is not None:
                self._remember(self._ref, result)
                self._ref = None

    def _remember(self, ref: str, result: OrderResult | QuoteResult) -> None:
        if isinstance(result, QuoteResult):
            ids = [leg.order_id for leg in (result.bid, result.ask) if leg is not None]
        else:
            ids = [] if result.order_id is None else [result.order_id]
        for name, order_id in zip(ref.split("+"), ids, strict=False):
            self.refs[name] = order_id

    def filled(self, fills: Sequence[Fill]) -> None:
        for fill in fills:
            self.scorer.on_fill(fill, self.marks.get(fill.instrument_id))
            self._quality(fill)
        self.recorder.fills(fills, self.names)

    def _quality(self, fill: Fill) -> None:
        """A continuous trade has one taker side (an auction print has none); retail fills
        are counted by order."""
        if fill.liquidity is Liquidity.TAKER:
            instrument = self.venue.instruments.get(fill.instrument_id)
            self.tally.trade(instrument is not None and instrument.is_option)
        if self.session.roles.get(fill.team_id) is Role.RETAIL:
            self.retail.fill(fill.order_id, fill.quantity)


def _marks(market: MarketSnapshot) -> dict[InstrumentId, Ticks]:
    """Each instrument's mark: the mid of its book, else its fair value, else its last."""
    out: dict[InstrumentId, Ticks] = {}
    for instrument_id, top in market.tops.items():
        if top.bid is not None and top.ask is not None:
            out[instrument_id] = Ticks((top.bid + top.ask) // 2)
        elif instrument_id in market.fair:
            out[instrument_id] = market.fair[instrument_id]
        elif top.last is not None:
            out[instrument_id] = top.last
    return out


def _option_tops(options: Sequence[Instrument], market: MarketSnapshot) -> list[OptionTop]:
    """Each listed option's best prices, with its underlying's spot (in ticks)."""
    out = []
    for option in options:
        top, spot = market.tops.get(option.id), market.spots.get(option.underlying)
        if top is None or option.kind is None or option.strike is None:
            continue
        spot_ticks = None if spot is None else spot * TICKS_PER_UNIT
        out.append(OptionTop(option.kind, option.strike, spot_ticks, top.bid, top.ask))
    return out


def _ticks(price: float | None) -> Ticks:
    if price is None:
        raise ValueError("a scripted quote needs bid_price and ask_price")
    return to_ticks(price)


def _duration(scenario: Scenario) -> int:
    return seconds(scenario.duration) * NS_PER_SECOND


def dump(value: Any) -> bytes:
    return msgspec.json.encode(value)
