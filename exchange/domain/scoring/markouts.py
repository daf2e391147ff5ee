"""Markouts: what a fill was worth h observations later (SPEC section 7 analytics).

markout(h) = (mark at the h-th observation after the fill - fill price) x side sign x
quantity x multiplier, in ticks: positive when the market moved the team's way.

How it works: the fills that come between two observations gather in one bucket, as
lots of one team, instrument, price, side and liquidity (summed: fills of one lot share
their markout's sign, so the adverse count stays exact). Each horizon h books the
bucket of observation k at observation k + h; a bucket goes once the longest horizon
has booked it. So what waits is at most (longest horizon + 1) buckets of lots, never
the fills themselves, and at most `max_pending_lots` lots in all: a fill that would
need one more is counted as untracked instead.
"""

from __future__ import annotations

from collections.abc import Mapping

from exchange.domain.scoring.results import AdverseSelection, MarkoutHorizon, MarkoutStats
from exchange.domain.scoring.state import (
    MarkoutBucket,
    MarkoutLot,
    ScorerState,
    Tally,
    TeamState,
)
from exchange.domain.types import InstrumentId, TeamId

ALL, MAKER, TAKER = 0, 1, 2
LotKey = tuple[TeamId, InstrumentId, int, bool, bool]
"""team, instrument, price, maker, buy."""


class Intake:
    """Where the fills after the latest observation gather: its bucket and an index of
    the bucket's lots. The index is derived (rebuilt from the bucket), never saved."""

    def __init__(self) -> None:
        self.bucket: MarkoutBucket | None = None
        self.index: dict[LotKey, MarkoutLot] = {}

    def add(
        self, state: ScorerState, team: TeamState, instrument_id: InstrumentId, price: int,
        exposure: int, quantity: int, maker: bool, limit: int,
    ) -> None:  # fmt: skip
        """Add one fill to its lot; count it untracked if that needs a lot past `limit`."""
        key = (team.team_id, instrument_id, price, maker, exposure > 0)
        lot = self._lots(state).get(key)
        if lot is None:
            if state.pending_lots >= limit:
                team.markouts_untracked += 1
                return
            lot = MarkoutLot(price, maker)
            assert self.bucket is not None
            by_team = self.bucket.lots.setdefault(instrument_id, {})
            by_team.setdefault(team.team_id, []).append(lot)
            self.index[key] = lot
            state.pending_lots += 1
        lot.exposure += exposure
        lot.quantity += quantity
        lot.count += 1

    def _lots(self, state: ScorerState) -> dict[LotKey, MarkoutLot]:
        newest = state.pending[-1] if state.pending else None
        if newest is None or newest.observation != state.observations:
            newest = MarkoutBucket(state.observations)
            state.pending.append(newest)
        if newest is not self.bucket:
            self.bucket = newest
            self.index = {
                (team_id, iid, lot.price, lot.maker, lot.exposure > 0): lot
                for iid, by_team in newest.lots.items()
                for team_id, lots in by_team.items()
                for lot in lots
            }
        return self.index


def lot_count(bucket: MarkoutBucket) -> int:
    return sum(len(lots) for by_team in bucket.lots.values() for lots in by_team.values())


def resolve(
    state: ScorerState, horizons: tuple[int, ...], marks: Mapping[InstrumentId, int], middle: int
) -> None:
    """Book every bucket a horizon falls due on at this observation (`state.observations`)
    and drop the buckets every horizon has booked. A lot whose instrument has no mark is
    skipped at that horizon: it cannot be valued."""
    now = state.observations
    for bucket in state.pending:
        for index, horizon in enumerate(horizons):
            if bucket.observation + horizon == now:
                _book_bucket(state, bucket, index, marks, index == middle)
    longest = horizons[-1]
    done = 0
    for bucket in state.pending:
        if bucket.observation + longest > now:
            break
        done += 1
        state.pending_lots -= lot_count(bucket)
    if done:
        del state.pending[:done]


def _book_bucket(
    state: ScorerState,
    bucket: MarkoutBucket,
    index: int,
    marks: Mapping[InstrumentId, int],
    middle: bool,
) -> None:
    for iid, by_team in bucket.lots.items():
        mark = marks.get(iid)
        if mark is None:
            continue
        for team_id, lots in by_team.items():
            team = state.teams.get(team_id)
            if team is None:
                continue
            for lot in lots:
                _book(team, index, lot, (mark - lot.price) * lot.exposure, middle)


def _book(team: TeamState, index: int, lot: MarkoutLot, value: int, middle: bool) -> None:
    tallies = team.markouts[index]
    tallies[ALL].add(lot.count, lot.quantity, value)
    tallies[MAKER if lot.maker else TAKER].add(lot.count, lot.quantity, value)
    if middle and lot.maker and value < 0:
        team.adverse += lot.count


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
