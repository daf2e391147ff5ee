"""Markouts: what a fill was worth h observations later (SPEC section 7 analytics).

markout(h) = (mark at the h-th observation after the fill - fill price) x side sign x
quantity x multiplier, in ticks: positive when the market moved the team's way. Each
horizon keeps a queue of fills in observation order, so an observation only looks at
the fills that fall due (amortised O(1) per fill and horizon).
"""

from __future__ import annotations

from collections.abc import Mapping

from exchange.domain.scoring.results import AdverseSelection, MarkoutHorizon, MarkoutStats
from exchange.domain.scoring.state import PendingMarkout, ScorerState, Tally, TeamState
from exchange.domain.types import InstrumentId

ALL, MAKER, TAKER = 0, 1, 2


def enqueue(state: ScorerState, pending: PendingMarkout) -> None:
    for queue in state.pending:
        queue.append(pending)


def resolve(
    state: ScorerState, horizons: tuple[int, ...], marks: Mapping[InstrumentId, int], middle: int
) -> None:
    """Book every fill whose horizon ends at this observation (`state.observations`).

    A fill whose instrument has no mark is dropped from that horizon: it cannot be valued.
    """
    now = state.observations
    for index, (horizon, queue) in enumerate(zip(horizons, state.pending, strict=True)):
        due = 0
        for p in queue:
            if p.observation + horizon > now:
                break
            due += 1
            mark = marks.get(p.instrument_id)
            team = state.teams.get(p.team_id)
            if mark is not None and team is not None:
                _book(team, index, p, (mark - p.price) * p.exposure, index == middle)
        if due:
            del queue[:due]


def _book(team: TeamState, index: int, p: PendingMarkout, value: int, middle: bool) -> None:
    tallies = team.markouts[index]
    tallies[ALL].add(p.quantity, value)
    tallies[MAKER if p.maker else TAKER].add(p.quantity, value)
    if middle and p.maker and value < 0:
        team.adverse += 1


def stats(tally: Tally) -> MarkoutStats:
    mean = tally.total / tally.contracts if tally.contracts else None
    return MarkoutStats(tally.count, tally.contracts, tally.total, mean)


def horizons_report(team: TeamState, horizons: tuple[int, ...]) -> list[MarkoutHorizon]:
    return [
        MarkoutHorizon(h, stats(t[ALL]), stats(t[MAKER]), stats(t[TAKER]))
        for h, t in zip(horizons, team.markouts, strict=True)
    ]


def adverse_selection(team: TeamState, horizons: tuple[int, ...], middle: int) -> AdverseSelection:
    """Share of maker fills marked out negative at the middle horizon, and their mean."""
    maker = team.markouts[middle][MAKER]
    share = team.adverse / maker.count if maker.count else None
    mean = maker.total / maker.contracts if maker.contracts else None
    return AdverseSelection(horizons[middle], maker.count, team.adverse, share, mean)
