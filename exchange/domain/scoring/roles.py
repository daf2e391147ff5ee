"""Role scoring (SPEC section 7): what one observation does to each role, and its KPIs.

Market maker: quote uptime against the obligation, inventory. Hedge fund: portfolio
delta against its limit. Arbitrage: balance of its dollar exposures, answers to signals.
Penalties accrue in integer ticks, one rounded amount per observation, so a replay adds
up the same numbers in the same order.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from exchange.domain.instruments import Instrument
from exchange.domain.scoring.config import ScoringConfig
from exchange.domain.scoring.results import Kpis, TimelineEntry, Window
from exchange.domain.scoring.state import (
    ArbState,
    HedgeState,
    MakerState,
    TeamState,
    Windows,
    push_bounded,
)
from exchange.domain.ticks import TICKS_PER_UNIT
from exchange.domain.types import NS_PER_SECOND, InstrumentId, Role

# Floating sums of deltas are not exact; a breach must clear the limit by more than noise.
EPSILON = 1e-9


def penalty_ticks(currency: float) -> int:
    return round(currency * TICKS_PER_UNIT)


def note(team: TeamState, entry: TimelineEntry, config: ScoringConfig) -> None:
    push_bounded(team.timeline, entry, config.max_timeline)


# Market maker


def observe_maker(
    maker: MakerState,
    listed_options: Sequence[InstrumentId],
    quoted: Collection[InstrumentId],
    config: ScoringConfig,
) -> None:
    """Count one observation's quoting; an observation with no listed option is not one."""
    if not listed_options:
        return
    quoted_now = 0
    for iid in listed_options:
        maker.listed[iid] = maker.listed.get(iid, 0) + 1
        if iid in quoted:
            maker.quoted[iid] = maker.quoted.get(iid, 0) + 1
            quoted_now += 1
    maker.observations += 1
    if quoted_now >= config.quote_share * len(listed_options) - EPSILON:
        maker.covered += 1


def uptime(maker: MakerState) -> float | None:
    return maker.covered / maker.observations if maker.observations else None


def obligation_penalty(maker: MakerState, config: ScoringConfig) -> int:
    """obligation_penalty x shortfall / required, from the counts: 0 when the obligation is
    met or nothing was observed yet."""
    share = uptime(maker)
    required = config.uptime_required
    if share is None or share >= required:
        return 0
    return penalty_ticks(config.obligation_penalty * (required - share) / required)


def uptime_by_instrument(maker: MakerState) -> dict[str, float]:
    return {iid: maker.quoted.get(iid, 0) / n for iid, n in maker.listed.items() if n}


def maker_kpis(team: TeamState, maker: MakerState, config: ScoringConfig) -> Kpis:
    share = uptime(maker)
    return {
        "spread_capture": team.spread_capture,
        "uptime": share,
        "obligation_met": None if share is None else share >= config.uptime_required,
        "obligation_penalty": obligation_penalty(maker, config),
        "covered_observations": maker.covered,
        "observations": maker.observations,
        "inventory": team.inventory,
        "max_inventory": team.max_inventory,
    }


# Deltas, shared by the hedge fund and the arbitrage desk


def underlying_deltas(
    positions: Mapping[InstrumentId, int],
    instruments: Mapping[InstrumentId, Instrument],
    deltas: Mapping[InstrumentId, float],
) -> dict[str, float]:
    """Delta per underlying, in its own units: position x delta x multiplier summed over
    options, plus the underlying itself. Raises ValueError for a held option with no
    delta ever observed (the shell must send one)."""
    out: dict[str, float] = {}
    for iid, qty in positions.items():
        if not qty:
            continue
        inst = instruments[iid]
        if inst.is_option:
            if iid not in deltas:
                raise ValueError(f"no delta observed for held option {iid}")
            amount = qty * deltas[iid] * inst.multiplier
        else:
            amount = float(qty)
        out[inst.underlying] = out.get(inst.underlying, 0.0) + amount
    return out


def spot(spots: Mapping[str, float], underlying: str) -> float:
    value = spots.get(underlying)
    if value is None or not value > 0:
        raise ValueError(f"no positive spot observed for {underlying}")
    return value


def reference_delta(
    by_underlying: Mapping[str, float], spots: Mapping[str, float], ref: str
) -> float:
    """Portfolio delta in units of `ref`: other underlyings scaled by spot / ref spot."""
    total = 0.0
    for underlying, amount in by_underlying.items():
        if underlying == ref or not amount:
            total += amount
        else:
            total += amount * spot(spots, underlying) / spot(spots, ref)
    return total


def dollar_exposures(
    by_underlying: Mapping[str, float], spots: Mapping[str, float], pair: Iterable[str]
) -> list[float]:
    """Absolute dollar delta on each underlying of `pair`: |delta| x spot."""
    return [abs(by_underlying[u]) * spot(spots, u) if by_underlying.get(u) else 0.0 for u in pair]


# Hedge fund


def observe_hedge(
    team: TeamState, hedge: HedgeState, delta: float, now_ns: int, config: ScoringConfig
) -> None:
    """Charge delta_penalty per unit past the limit; note entering and leaving a breach."""
    hedge.delta = delta
    excess = abs(delta) - config.delta_limit
    breach = excess > EPSILON
    if breach:
        hedge.penalty += penalty_ticks(config.delta_penalty * excess)
        hedge.breaches += 1
    if breach is not hedge.in_breach:
        hedge.in_breach = breach
        kind = "delta_limit_breach" if breach else "delta_limit_restored"
        detail = f"portfolio delta {delta:.2f} (limit {config.delta_limit:g})"
        note(team, TimelineEntry(now_ns, kind, detail), config)


def hedge_kpis(team: TeamState, hedge: HedgeState) -> Kpis:
    windows = team.news
    return {
        "window_pnl_last": windows.last,
        "window_pnl_mean": windows.total / windows.count if windows.count else None,
        "windows": windows.count,
        "delta": hedge.delta,
        "delta_penalty": hedge.penalty,
        "delta_breaches": hedge.breaches,
    }


# Arbitrage


def observe_arb(
    team: TeamState, arb: ArbState, exposures: Sequence[float], now_ns: int,
    config: ScoringConfig,
) -> None:  # fmt: skip
    """Imbalanced when the larger exposure exceeds balance_ratio x the smaller: one side
    flat and the other not is imbalanced, both flat is balanced."""
    large = max(exposures, default=0.0)
    small = min(exposures, default=0.0)
    arb.ratio = large / small if small > 0 else None
    # Relative tolerance: exposures reach 10^8 dollars, where float noise exceeds EPSILON.
    imbalanced = large - config.balance_ratio * small > EPSILON * max(1.0, large)
    if imbalanced:
        arb.penalty += penalty_ticks(config.balance_penalty)
        arb.imbalanced_observations += 1
    if imbalanced is not arb.imbalanced:
        arb.imbalanced = imbalanced
        kind = "balance_breach" if imbalanced else "balance_restored"
        shown = "flat" if arb.ratio is None else f"{arb.ratio:.2f}"
        detail = f"dollar exposures {_amounts(exposures)}, ratio {shown}"
        detail += f" (limit {config.balance_ratio:g})"
        note(team, TimelineEntry(now_ns, kind, detail), config)


def respond(arb: ArbState, ts_ns: int) -> None:
    """An order or fill answers every pending signal sent at or before it."""
    if not arb.pending:
        return
    answered = [p for p in arb.pending if p.ts_ns <= ts_ns]
    if not answered:
        return
    arb.responses += len(answered)
    arb.response_ns_total += sum(ts_ns - p.ts_ns for p in answered)
    arb.pending = [p for p in arb.pending if p.ts_ns > ts_ns]


def expire_signals(team: TeamState, arb: ArbState, now_ns: int, config: ScoringConfig) -> None:
    """Count this observation against every pending signal sent before it; a signal with
    no observations left and no answer is a miss."""
    if not arb.pending:
        return
    for p in arb.pending:
        if now_ns > p.ts_ns:
            p.left -= 1
            if p.left <= 0:
                arb.misses += 1
                detail = f"{p.kind} signal at {p.ts_ns} not answered within"
                detail += f" {config.response_ticks} observation(s)"
                note(team, TimelineEntry(now_ns, "missed_signal_response", detail), config)
    arb.pending = [p for p in arb.pending if p.left > 0]


def arb_kpis(arb: ArbState, pnl: int) -> Kpis:
    decided = arb.responses + arb.misses
    return {
        "signal_pnl": window_sum(arb.windows, pnl),
        "signals": arb.signals,
        "responses": arb.responses,
        "misses": arb.misses,
        "response_rate": arb.responses / decided if decided else None,
        "response_seconds_mean": (
            arb.response_ns_total / arb.responses / NS_PER_SECOND if arb.responses else None
        ),
        "balance_ratio": arb.ratio,
        "balance_penalty": arb.penalty,
        "imbalanced_observations": arb.imbalanced_observations,
    }


# Windows (news for every team, signals for the arbitrage desk)


def roll_window(windows: Windows, pnl: int, now_ns: int, label: str, limit: int) -> None:
    """Close the open window at `pnl` (if one is open) and open the next."""
    if windows.open_pnl is not None:
        change = pnl - windows.open_pnl
        windows.count += 1
        windows.total += change
        windows.last = change
        push_bounded(
            windows.kept, Window(windows.open_ns, now_ns, windows.open_label, change), limit
        )
    windows.open_pnl = pnl
    windows.open_ns = now_ns
    windows.open_label = label


def window_sum(windows: Windows, pnl: int) -> int:
    """Closed windows' P&L plus the open window's change so far."""
    running = 0 if windows.open_pnl is None else pnl - windows.open_pnl
    return windows.total + running


def penalties(team: TeamState, config: ScoringConfig) -> int:
    """The role's penalty in ticks; house, retail and roles without one pay none."""
    if team.maker is not None:
        return obligation_penalty(team.maker, config)
    if team.hedge is not None:
        return team.hedge.penalty
    if team.arb is not None:
        return team.arb.penalty
    return 0


def kpis(team: TeamState, pnl: int, config: ScoringConfig) -> Kpis:
    if team.role is Role.MARKET_MAKER and team.maker is not None:
        return maker_kpis(team, team.maker, config)
    if team.role is Role.HEDGE_FUND and team.hedge is not None:
        return hedge_kpis(team, team.hedge)
    if team.role is Role.ARBITRAGE and team.arb is not None:
        return arb_kpis(team.arb, pnl)
    return {}


def _amounts(values: Iterable[float]) -> str:
    return "/".join(f"{v:.0f}" for v in values)
