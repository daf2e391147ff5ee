"""The scorer: P&L, penalties, role KPIs and the leaderboard, fed one event at a time.

How this works: the scorer keeps its own mirror of every team's positions and cash,
booked from the fills and settlements it is given with the ledger's arithmetic (cash +=
fee - price x signed quantity x multiplier), so it can run live beside the ledger or
alone from stored fills. Marks come from `observe`, called once per market tick; P&L
is cash plus positions at the latest marks (SPEC section 7). Each event costs O(1) for
the team concerned; an observation costs O(what each team holds) plus O(listed options)
per market maker. Every reported number is derived from counts and sums in
`ScorerState`, which `snapshot` saves whole, so a restored scorer continues exactly;
each team's P&L series (its chart, from which nothing is computed) is kept beside it
and saved a few teams at a time (`series_snapshot`), being most of the bytes.
Pure: time is the `ts_ns` / `now_ns` each call is given; nothing is sent anywhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterable, Mapping

import msgspec

from exchange.domain.instruments import Instrument, parse_instrument_id
from exchange.domain.positions import Fill, Ledger, Settlement
from exchange.domain.scoring import markouts, roles
from exchange.domain.scoring.config import ScoringConfig
from exchange.domain.scoring.invariants import check_balances, compare_accounts
from exchange.domain.scoring.results import (
    Leaderboard,
    MirrorAccount,
    PnlPoint,
    TeamReport,
    TeamScore,
    TimelineEntry,
)
from exchange.domain.scoring.state import (
    SNAPSHOT_VERSION,
    PendingSignal,
    ScorerState,
    Series,
    SeriesSlice,
    TeamState,
    V2State,
    add_pnl_point,
    new_team,
)
from exchange.domain.types import InstrumentId, Liquidity, Role, TeamId, Ticks, TimeNs

RoleInputs = tuple[dict[TeamId, float], dict[TeamId, list[float]]]
"""Each hedge fund's portfolio delta and each arbitrage team's dollar exposures."""

DEFAULT_CONFIG = ScoringConfig()
RANKED_ROLES = (Role.MARKET_MAKER, Role.HEDGE_FUND, Role.ARBITRAGE)
LIMIT_CODES = frozenset({"POSITION_LIMIT_EXCEEDED", "PORTFOLIO_LIMIT_EXCEEDED"})

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(ScorerState)
_series_decoder = msgspec.msgpack.Decoder(SeriesSlice)
_v2_decoder = msgspec.msgpack.Decoder(V2State)


class Scorer:
    """Scores of every team. Raises KeyError for an unknown team or instrument (the shell
    registers both first) and ValueError for an observation it cannot value; either way
    it changes nothing."""

    def __init__(
        self,
        instruments: Mapping[InstrumentId, Instrument],
        config: ScoringConfig = DEFAULT_CONFIG,
    ) -> None:
        self.config = config
        self._middle = len(config.markout_ticks) // 2
        self._s = ScorerState(config.markout_ticks)
        self._series: dict[TeamId, Series] = {}
        self._intake = markouts.Intake()
        self.list_instruments(instruments.values())

    # Registration

    def add_team(self, team_id: TeamId, name: str, role: Role) -> None:
        """Start scoring a team; a second call for the same team only updates its name.
        Raises ValueError if the team is already scored under another role."""
        team = self._s.teams.get(team_id)
        if team is not None:
            if team.role is not role:
                raise ValueError(f"team {team_id!r} is scored as {team.role}, not {role}")
            team.name = name
            return
        self._s.teams[team_id] = new_team(team_id, name, role, len(self.config.markout_ticks))
        self._series[team_id] = Series()

    def list_instruments(self, instruments: Iterable[Instrument]) -> None:
        """Instruments listed from now on (new weeklies); they count for quote uptime."""
        for inst in instruments:
            self._s.instruments[inst.id] = inst
            self._s.listed[inst.id] = None

    def delist_instruments(self, instrument_ids: Iterable[InstrumentId]) -> None:
        """Instruments no longer listed (expired); settlement delists too."""
        for iid in instrument_ids:
            self._s.listed.pop(iid, None)

    # Events

    def on_fill(self, fill: Fill, mid: Ticks | None) -> None:
        """Book one side of a trade. `mid` is the mark just before it (None: the last
        observed mark); it measures spread capture and seeds the mark of an instrument
        not observed yet."""
        team = self._team(fill.team_id)
        inst = self._instrument(fill.instrument_id)
        iid, mult, qty = inst.id, inst.multiplier, fill.quantity
        dq = fill.side.sign * qty
        self._book(team, inst, dq, fill.price, fill.fee_ticks)
        team.fills += 1
        team.contracts += qty
        reference = self._s.marks.get(iid) if mid is None else mid
        if reference is not None:
            team.spread_capture += (reference - fill.price) * dq * mult
        self._s.marks.setdefault(iid, fill.price if reference is None else reference)
        self._s.last_trade_id = max(self._s.last_trade_id, fill.trade_id)
        if team.role is not Role.HOUSE:  # the house is half of most trades; nobody reads it
            maker = fill.liquidity is Liquidity.MAKER
            limit = self.config.max_pending_lots
            self._intake.add(self._s, team, iid, fill.price, dq * mult, qty, maker, limit)
        if team.arb is not None and iid in self.config.arbitrage_underlyings:
            roles.respond(team.arb, fill.ts_ns)

    def on_settlement(self, settlement: Settlement) -> None:
        """Close a position at its settlement value, fee-free, and delist the instrument;
        markouts still pending on it are valued at that value."""
        team = self._team(settlement.team_id)
        inst = self._instrument(settlement.instrument_id)
        self._book(team, inst, -settlement.quantity, settlement.value_ticks, 0)
        # Like the ledger, the instrument leaves the account even if the mirror disagreed.
        residual = team.positions.pop(inst.id, 0)
        if inst.is_option:
            team.inventory -= abs(residual)
        self._s.marks[inst.id] = settlement.value_ticks
        self._s.listed.pop(inst.id, None)

    def catch_up(self, fills: Iterable[Fill], settlements: Iterable[Settlement]) -> int:
        """Book what a restored scorer missed: fills above the last trade id it booked,
        and settlements of instruments it still lists. Fills of teams or instruments it
        does not know are left to `adopt`. Returns the fills booked."""
        booked = 0
        since = self._s.last_trade_id
        for fill in fills:
            known = fill.team_id in self._s.teams and fill.instrument_id in self._s.instruments
            if fill.trade_id > since and known:
                self.on_fill(fill, None)
                booked += 1
        for settled in settlements:
            if settled.instrument_id in self._s.listed and settled.team_id in self._s.teams:
                self.on_settlement(settled)
        return booked

    @property
    def last_trade_id(self) -> int:
        return self._s.last_trade_id

    def on_rejection(
        self, team_id: TeamId, ts_ns: TimeNs, code: str, constraint: str | None, message: str
    ) -> None:
        team = self._team(team_id)
        team.rejections += 1
        kind = "rejection"
        if code in LIMIT_CODES:
            kind = "limit_breach_attempt"
            team.limit_breach_attempts += 1
        detail = code if constraint is None else f"{code} ({constraint})"
        roles.note(team, TimelineEntry(ts_ns, kind, f"{detail}: {message}"), self.config)

    def on_order(self, team_id: TeamId, ts_ns: TimeNs, instrument_id: InstrumentId) -> None:
        """An accepted order or quote: for the arbitrage desk, an answer to a signal."""
        team = self._team(team_id)
        if team.arb is not None and instrument_id in self.config.arbitrage_underlyings:
            roles.respond(team.arb, ts_ns)

    def on_news(self, ts_ns: TimeNs, headline: str) -> None:
        """Close every team's news window and open the next, labelled with `headline`."""
        for team in self._s.teams.values():
            roles.roll_window(team.news, self._pnl(team), ts_ns, headline, self.config.max_windows)

    def on_signal(self, role: Role, ts_ns: TimeNs, kind: str) -> None:
        """An arbitrage signal opens a signal window and a response deadline for every
        arbitrage team: `response_ticks` observations later than the signal, whichever
        order the shell calls `observe` and this in. Other roles' signals are not scored."""
        if role is not Role.ARBITRAGE:
            return
        for team in self._s.teams.values():
            if team.arb is None:
                continue
            team.arb.signals += 1
            team.arb.pending.append(PendingSignal(ts_ns, kind, self.config.response_ticks))
            pnl = self._pnl(team)
            roles.roll_window(team.arb.windows, pnl, ts_ns, kind, self.config.max_windows)

    def observe(
        self,
        now_ns: TimeNs,
        marks: Mapping[InstrumentId, Ticks],
        deltas: Mapping[InstrumentId, float],
        spots: Mapping[str, float],
        quoted: Mapping[TeamId, Collection[InstrumentId]],
    ) -> dict[TeamId, str]:
        """One market observation. Missing marks, deltas and spots keep their last
        observed values. A hedge fund or arbitrage team holding what cannot be valued in
        delta (an option never given a delta, an underlying never given a spot, as in a
        market with no simulated prices) is not scored on its delta or balance this time,
        and everything else is observed as usual; returns those teams, with the reason."""
        s = self._s
        new_marks = {**s.marks, **marks}
        new_deltas = {**s.deltas, **deltas}
        new_spots = {**s.spots, **spots}
        inputs, unvalued = self._role_inputs(new_deltas, new_spots)
        s.marks, s.deltas, s.spots = new_marks, new_deltas, new_spots
        s.observations += 1
        s.last_ns = now_ns
        markouts.resolve(s, self.config.markout_ticks, new_marks, self._middle)
        listed_options = [i for i in s.listed if s.instruments[i].is_option]
        for team in s.teams.values():
            self._observe_team(team, now_ns, listed_options, quoted, inputs)
        return unvalued

    # Reads

    def update_marks(self, marks: Mapping[InstrumentId, Ticks]) -> None:
        """Fresher marks between observations, so the P&L shown follows the market;
        markouts still resolve only at observations."""
        self._s.marks.update(marks)

    def __contains__(self, team_id: object) -> bool:
        return team_id in self._s.teams

    def pnl(self, team_id: TeamId) -> int:
        """Cash plus positions at the latest marks, in ticks."""
        return self._pnl(self._team(team_id))

    def standing(self, team_id: TeamId) -> TeamScore:
        return self._standing(self._team(team_id))

    def leaderboard(self) -> Leaderboard:
        """Ranked by score, ties by name (then id); house and retail listed, unranked."""
        scores = sorted(
            (self._standing(t) for t in self._s.teams.values()),
            key=lambda t: (-t.score, t.name, t.team_id),
        )
        ranked = [t for t in scores if t.role in RANKED_ROLES]
        house = sorted((t for t in scores if t.role not in RANKED_ROLES), key=_by_name)
        by_role = {r.value: _ranked([t for t in ranked if t.role is r]) for r in RANKED_ROLES}
        return Leaderboard(self._s.last_ns, _ranked(ranked), by_role, house)

    def report(self, team_id: TeamId) -> TeamReport:
        team = self._team(team_id)
        horizons = self.config.markout_ticks
        maker, arb = team.maker, team.arb
        return TeamReport(
            standing=self._standing(team),
            observations=team.observations,
            fills=team.fills,
            contracts=team.contracts,
            rejections=team.rejections,
            limit_breach_attempts=team.limit_breach_attempts,
            markouts=markouts.horizons_report(team, horizons),
            markouts_untracked=team.markouts_untracked,
            adverse_selection=markouts.adverse_selection(team, horizons, self._middle),
            uptime_by_instrument={} if maker is None else roles.uptime_by_instrument(maker),
            windows=list(team.news.kept),
            signal_windows=[] if arb is None else list(arb.windows.kept),
            pnl_series=[PnlPoint(ts, pnl) for ts, pnl in self._series_of(team_id).points],
            timeline=list(team.timeline),
        )

    @property
    def observations(self) -> int:
        return self._s.observations

    @property
    def team_ids(self) -> list[TeamId]:
        """Every scored team, in the order they were added."""
        return list(self._s.teams)

    # Invariants and persistence

    def accounts(self) -> list[MirrorAccount]:
        """The mirror, as plain records: net fees, cash, held positions."""
        return [
            MirrorAccount(t.team_id, t.role, t.cash, t.fees_received - t.fees_paid,
                          {i: q for i, q in t.positions.items() if q})
            for t in self._s.teams.values()
        ]  # fmt: skip

    def invariants(self) -> list[str]:
        """SPEC section 7 invariants over the mirror; they hold once it has seen every fill
        of every team, the house included."""
        return check_balances(self.accounts())

    def adopt(self, ledger: Ledger) -> None:
        """Take positions, cash and net fees from the ledger: a restarted game's saved
        scores may be a few fills behind what was committed. Fees the mirror cannot split
        into paid and received go to the side their sign says; inventories follow. A
        position in an instrument with no mark is valued at its average open price."""
        for account in ledger.accounts():
            for iid, (qty, cost) in account.state().positions.items():
                if qty:
                    self._know(iid)
                if qty and iid not in self._s.marks:
                    self._s.fallback[iid] = round(cost / (qty * self._multiplier(iid)))
            team = self._s.teams.get(account.team_id)
            if team is None:
                continue
            team.cash = account.cash_ticks
            missing = account.fees_ticks - (team.fees_received - team.fees_paid)
            if missing >= 0:
                team.fees_received += missing
            else:
                team.fees_paid -= missing
            team.positions = {i: q for i, q in account.positions.items() if q}
            team.inventory = sum(
                abs(q)
                for i, q in team.positions.items()
                if i in self._s.instruments and self._s.instruments[i].is_option
            )
            team.max_inventory = max(team.max_inventory, team.inventory)

    def compare_with(self, ledger: Ledger) -> list[str]:
        """Where the mirror and the ledger disagree (positions, cash, net fees)."""
        return compare_accounts(self.accounts(), ledger)

    def snapshot(self) -> bytes:
        """The whole state but the P&L series, as msgpack; `Scorer.restore` gives back an
        identical scorer (with the series from `series_snapshot`)."""
        return _encoder.encode(self._s)

    def series_snapshot(self, team_ids: Iterable[TeamId], ts_ns: int) -> bytes:
        """The P&L series of these teams as of `ts_ns`, as msgpack, for `restore`."""
        chosen = {t: self._series_of(t) for t in team_ids if t in self._s.teams}
        return _encoder.encode(SeriesSlice(ts_ns, chosen))

    @classmethod
    def restore(
        cls,
        instruments: Mapping[InstrumentId, Instrument],
        config: ScoringConfig,
        data: bytes,
        series: Iterable[bytes] = (),
    ) -> Scorer:
        """A scorer from `snapshot()` bytes; `instruments` adds or refreshes instrument
        details but lists nothing. Raises ValueError for bytes that are not a snapshot
        or were taken with other markout horizons.

        `series` are `series_snapshot` bytes; the newest saved of a team's series is
        taken (a team in none starts a new one). A version 2 snapshot carries the series
        in its teams, and gives them."""
        try:
            state = _decoder.decode(data)
            slices = sorted((_series_decoder.decode(b) for b in series), key=_by_time)
            if state.version == 2:
                slices.insert(0, _v2_series(data))
        except msgspec.DecodeError as exc:
            raise ValueError(f"not a scorer snapshot: {exc}") from exc
        if state.version not in (2, SNAPSHOT_VERSION):
            raise ValueError(f"snapshot version {state.version}, expected {SNAPSHOT_VERSION}")
        if state.markout_ticks != config.markout_ticks:
            raise ValueError(
                f"snapshot markout_ticks {state.markout_ticks} != config {config.markout_ticks}"
            )
        scorer = cls({}, config)
        state.instruments.update(instruments)
        state.version = SNAPSHOT_VERSION
        scorer._s = state
        for kept in slices:
            scorer._series.update((t, v) for t, v in kept.series.items() if t in state.teams)
        scorer._intake = markouts.Intake()
        return scorer

    # Internals

    def _series_of(self, team_id: TeamId) -> Series:
        """The team's series (a new one for a team a restore found none for)."""
        series = self._series.get(team_id)
        if series is None:
            series = self._series[team_id] = Series()
        return series

    def _team(self, team_id: TeamId) -> TeamState:
        team = self._s.teams.get(team_id)
        if team is None:
            raise KeyError(f"team not registered with the scorer: {team_id!r}")
        return team

    def _instrument(self, instrument_id: InstrumentId) -> Instrument:
        inst = self._s.instruments.get(instrument_id)
        if inst is None:
            raise KeyError(f"instrument not listed with the scorer: {instrument_id!r}")
        return inst

    def _book(self, team: TeamState, inst: Instrument, dq: int, price: int, fee: int) -> None:
        """The ledger's arithmetic: cash += fee - price x dq x multiplier."""
        team.cash += fee - price * dq * inst.multiplier
        if fee > 0:
            team.fees_received += fee
        else:
            team.fees_paid -= fee
        before = team.positions.get(inst.id, 0)
        after = before + dq
        if after:
            team.positions[inst.id] = after
        else:
            team.positions.pop(inst.id, None)
        if inst.is_option:
            team.inventory += abs(after) - abs(before)
            team.max_inventory = max(team.max_inventory, team.inventory)

    def _know(self, instrument_id: InstrumentId) -> None:
        """Learn an instrument held in the ledger but never listed here (a restart on a
        later day lists another chain), from its id, without listing it."""
        if instrument_id not in self._s.instruments:
            with contextlib.suppress(ValueError):
                self._s.instruments[instrument_id] = parse_instrument_id(instrument_id)

    def _multiplier(self, instrument_id: InstrumentId) -> int:
        inst = self._s.instruments.get(instrument_id)
        if inst is not None:
            return inst.multiplier
        try:
            return parse_instrument_id(instrument_id).multiplier
        except ValueError:
            return 1

    def _pnl(self, team: TeamState) -> int:
        return self._valued(team)[0]

    def _valued(self, team: TeamState) -> tuple[int, list[InstrumentId]]:
        """Cash plus positions at their marks, and the instruments held with no mark
        (valued at the fallback price, else at zero). Never raises for a missing mark."""
        marks, fallback = self._s.marks, self._s.fallback
        value = 0
        unmarked: list[InstrumentId] = []
        for iid, qty in team.positions.items():
            mark = marks.get(iid)
            if mark is None:
                unmarked.append(iid)
                mark = fallback.get(iid, 0)
            value += qty * mark * self._multiplier(iid)
        return team.cash + value, sorted(unmarked)

    def _standing(self, team: TeamState) -> TeamScore:
        pnl, unmarked = self._valued(team)
        penalty = roles.penalties(team, self.config)
        return TeamScore(
            team.team_id, team.name, team.role, pnl, team.fees_paid, team.fees_received,
            penalty, pnl - penalty, roles.kpis(team, pnl, self.config), unmarked=unmarked,
        )  # fmt: skip

    def _role_inputs(
        self, deltas: Mapping[InstrumentId, float], spots: Mapping[str, float]
    ) -> tuple[RoleInputs, dict[TeamId, str]]:
        """Each hedge fund's portfolio delta and each arbitrage team's dollar exposures,
        and the teams neither can be worked out for (a delta or a spot missing), with why."""
        hedge: dict[TeamId, float] = {}
        arb: dict[TeamId, list[float]] = {}
        unvalued: dict[TeamId, str] = {}
        config = self.config
        for team in self._s.teams.values():
            if team.hedge is None and team.arb is None:
                continue
            try:
                by_underlying = roles.underlying_deltas(
                    team.positions, self._s.instruments, deltas
                )
                if team.hedge is not None:
                    ref = config.reference_underlying
                    hedge[team.team_id] = roles.reference_delta(by_underlying, spots, ref)
                else:
                    pair = config.arbitrage_underlyings
                    arb[team.team_id] = roles.dollar_exposures(by_underlying, spots, pair)
            except ValueError as exc:
                unvalued[team.team_id] = str(exc)
        return (hedge, arb), unvalued

    def _observe_team(
        self,
        team: TeamState,
        now_ns: TimeNs,
        listed_options: list[InstrumentId],
        quoted: Mapping[TeamId, Collection[InstrumentId]],
        inputs: RoleInputs,
    ) -> None:
        config = self.config
        if team.maker is not None:
            quotes = quoted.get(team.team_id, ())
            if not isinstance(quotes, set | frozenset):
                quotes = set(quotes)
            roles.observe_maker(team.maker, listed_options, quotes, config)
        delta, exposures = inputs[0].get(team.team_id), inputs[1].get(team.team_id)
        if team.hedge is not None and delta is not None:
            roles.observe_hedge(team, team.hedge, delta, now_ns, config)
        if team.arb is not None:
            if exposures is not None:
                roles.observe_arb(team, team.arb, exposures, now_ns, config)
            roles.expire_signals(team, team.arb, now_ns, config)
        series = self._series_of(team.team_id)
        add_pnl_point(series, (now_ns, self._pnl(team)), team.observations, config.max_pnl_points)
        team.observations += 1


def _by_time(kept: SeriesSlice) -> int:
    return kept.ts_ns


def _v2_series(data: bytes) -> SeriesSlice:
    """The series a version 2 snapshot kept in its teams."""
    teams = _v2_decoder.decode(data).teams
    series = {
        team_id: Series([(p.ts_ns, p.pnl) for p in team.pnl_points], team.pnl_stride)
        for team_id, team in teams.items()
    }
    return SeriesSlice(-1, series)


def _by_name(score: TeamScore) -> tuple[str, str]:
    return (score.name, score.team_id)


def _ranked(scores: list[TeamScore]) -> list[TeamScore]:
    return [msgspec.structs.replace(s, rank=n) for n, s in enumerate(scores, start=1)]
