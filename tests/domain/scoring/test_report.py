"""The post-game report: timeline, P&L series; snapshot and restore; the config's checks."""

from __future__ import annotations

import itertools

import msgspec
import pytest

from exchange.domain.scoring import Scorer, ScoringConfig, TeamReport
from exchange.domain.types import Role, Side, TeamId, Ticks, TimeNs
from tests.domain.scoring.support import (
    ARB,
    CALL,
    HF,
    HOUSE,
    INSTRUMENTS,
    MM,
    OPTION_IDS,
    SPX,
    SPY,
    Game,
)


def test_rejections_and_limit_breach_attempts_go_to_the_timeline() -> None:
    game = Game()
    game.scorer.on_rejection(HF, TimeNs(5), "RATE_LIMIT_EXCEEDED", "order_rate", "too fast")
    game.scorer.on_rejection(
        HF, TimeNs(6), "POSITION_LIMIT_EXCEEDED", "position_limit", "would reach 151"
    )
    game.scorer.on_rejection(HF, TimeNs(7), "PORTFOLIO_LIMIT_EXCEEDED", None, "over 500")
    report = game.scorer.report(HF)
    assert [(e.ts_ns, e.kind, e.detail) for e in report.timeline] == [
        (5, "rejection", "RATE_LIMIT_EXCEEDED (order_rate): too fast"),
        (6, "limit_breach_attempt", "POSITION_LIMIT_EXCEEDED (position_limit): would reach 151"),
        (7, "limit_breach_attempt", "PORTFOLIO_LIMIT_EXCEEDED: over 500"),
    ]
    assert (report.rejections, report.limit_breach_attempts) == (3, 2)


def test_the_timeline_keeps_the_newest_entries() -> None:
    game = Game()
    for n in range(510):
        game.scorer.on_rejection(MM, TimeNs(n), "MARKET_CLOSED", None, "closed")
    timeline = game.scorer.report(MM).timeline
    assert len(timeline) == 500
    assert (timeline[0].ts_ns, timeline[-1].ts_ns) == (10, 509)
    assert game.scorer.report(MM).rejections == 510


def test_pnl_series_has_a_point_per_observation_thinned_evenly_when_full() -> None:
    game = Game(ScoringConfig(max_pnl_points=4))
    game.trade(HF, HOUSE, 1, 440_000, SPX)
    for n in range(9):
        game.observe({SPX: 440_000 + n})
    series = game.scorer.report(HF).pnl_series
    assert [p.pnl for p in series] == [-2, 2, 6]  # observations 0, 4, 8: every 4th
    gaps = {b.ts_ns - a.ts_ns for a, b in itertools.pairwise(series)}
    assert len(gaps) == 1
    assert game.scorer.report(HF).to_wire()["pnl_series"][1]["pnl"] == 0.02


def test_pnl_series_never_exceeds_its_bound() -> None:
    game = Game()
    for _ in range(4_100):
        game.observe()
    series = game.scorer.report(HF).pnl_series
    assert 1_000 <= len(series) < 2_000
    assert game.scorer.report(HF).observations == 4_100


def test_report_holds_the_standing_and_encodes_to_json() -> None:
    game = Game()
    game.trade(HF, MM, 2, 1_000, CALL.id, mid=990)
    game.observe({CALL.id: 1_000}, quoted={MM: OPTION_IDS})
    report = game.scorer.report(MM)
    assert report.standing == game.scorer.standing(MM)
    assert (report.fills, report.contracts, report.observations) == (1, 2, 1)
    assert msgspec.json.decode(msgspec.json.encode(report), type=TeamReport) == report
    wire = report.to_wire()
    assert wire["standing"]["fees_received"] == 0.04
    assert wire["markouts"][0]["maker"]["total"] == 0.0
    assert wire["standing"]["kpis"]["spread_capture"] == 20.0


def _rich_game() -> Game:
    """Every kind of state: positions, marks, windows, pending markouts and signals."""
    game = Game()
    game.trade(HF, MM, 2, 1_000, CALL.id, mid=990)
    game.trade(ARB, HOUSE, 3, 440_000, SPX)
    game.trade(HOUSE, ARB, 10, 44_000, SPY, aggressor=Side.SELL)
    game.scorer.on_news(TimeNs(3), "Strong jobs report")
    game.scorer.on_rejection(HF, TimeNs(4), "POSITION_LIMIT_EXCEEDED", None, "too much")
    for n in range(7):
        game.observe(
            {CALL.id: 1_000 + 7 * n, SPX: 440_000 + 3 * n},
            deltas={CALL.id: 0.3 + n / 7},
            quoted={MM: OPTION_IDS[: n % 6]},
        )
        game.scorer.on_signal(Role.ARBITRAGE, TimeNs(game.now + 1), "tracking_error")
    game.trade(HF, HOUSE, 1, 1_100, CALL.id)
    return game


def _reports(scorer: Scorer) -> list[TeamReport]:
    return [scorer.report(TeamId(t)) for t in ("house", "retail", "mm", "mm2", "hf", "arb")]


def _series(scorer: Scorer, ts_ns: int = 0) -> bytes:
    return scorer.series_snapshot(scorer.team_ids, ts_ns)


def test_snapshot_restores_an_identical_scorer_that_continues_identically() -> None:
    game = _rich_game()
    data = game.scorer.snapshot()
    restored = Scorer.restore(INSTRUMENTS, game.scorer.config, data, [_series(game.scorer)])
    assert restored.snapshot() == data
    assert restored.leaderboard() == game.scorer.leaderboard()
    assert _reports(restored) == _reports(game.scorer)
    for scorer in (game.scorer, restored):
        scorer.on_order(ARB, TimeNs(game.now + 2), SPX)
        for n in range(31):
            scorer.observe(TimeNs(game.now + 10 + n), {CALL.id: Ticks(1_050 - n)}, {}, {}, {})
        scorer.on_news(TimeNs(game.now + 99), "No major news today")
    assert restored.snapshot() == game.scorer.snapshot()
    assert _reports(restored) == _reports(game.scorer)
    assert restored.compare_with(game.ledger) == []


def test_the_series_come_from_the_newest_slice_that_has_them() -> None:
    game = _rich_game()
    scorer = game.scorer
    early = scorer.series_snapshot([TeamId("mm"), TeamId("hf")], ts_ns=1)
    for n in range(5):
        scorer.observe(TimeNs(game.now + 10 + n), {CALL.id: Ticks(1_050 - n)}, {}, {}, {})
    late = scorer.series_snapshot([TeamId("mm")], ts_ns=2)
    restored = Scorer.restore(INSTRUMENTS, scorer.config, scorer.snapshot(), [late, early])
    assert restored.report(MM).pnl_series == scorer.report(MM).pnl_series
    hf_then = len(restored.report(HF).pnl_series)
    assert 0 < hf_then < len(scorer.report(HF).pnl_series)  # as of the early slice
    assert restored.report(ARB).pnl_series == []  # in no slice: a new series
    without = Scorer.restore(INSTRUMENTS, scorer.config, scorer.snapshot())
    assert without.leaderboard() == scorer.leaderboard()  # only the charts are missing
    assert without.report(MM).pnl_series == []


def test_a_version_2_snapshot_restores_with_the_series_in_its_teams() -> None:
    game = _rich_game()
    state = msgspec.msgpack.decode(game.scorer.snapshot())
    state["version"] = 2
    for team_id, team in state["teams"].items():
        points = game.scorer.report(TeamId(team_id)).pnl_series
        team["pnl_points"] = [{"ts_ns": p.ts_ns, "pnl": p.pnl} for p in points]
        team["pnl_stride"] = 1
    restored = Scorer.restore(INSTRUMENTS, game.scorer.config, msgspec.msgpack.encode(state))
    assert _reports(restored) == _reports(game.scorer)
    assert restored.snapshot() == game.scorer.snapshot()  # saved as version 3 from now on


def test_the_state_saved_at_every_interval_does_not_grow_with_the_game() -> None:
    game = _rich_game()
    scorer = game.scorer
    sizes = []
    for n in range(3_000):
        scorer.observe(TimeNs(game.now + 10 + n), {CALL.id: Ticks(1_000 + n % 7)}, {}, {}, {})
        if n in (100, 2_999):
            sizes.append((len(scorer.snapshot()), len(_series(scorer))))
    (state_then, series_then), (state_now, series_now) = sizes
    assert state_now - state_then < 64  # counts and the last time grew wider, nothing else
    assert series_now > series_then + 10_000  # the charts grew: saved apart, a slice a time


def test_restore_refuses_junk_and_other_horizons() -> None:
    data = _rich_game().scorer.snapshot()
    with pytest.raises(ValueError, match="not a scorer snapshot"):
        Scorer.restore(INSTRUMENTS, ScoringConfig(), b"\x01junk")
    with pytest.raises(ValueError, match="markout_ticks"):
        Scorer.restore(INSTRUMENTS, ScoringConfig(markout_ticks=(1, 10)), data)
    with pytest.raises(ValueError, match="not a scorer snapshot"):
        Scorer.restore(INSTRUMENTS, ScoringConfig(), data, [b"\x01junk"])


def test_add_team_is_idempotent_but_refuses_another_role() -> None:
    game = Game()
    game.trade(HF, HOUSE, 1, 440_000, SPX)
    game.scorer.add_team(HF, "Charlie", Role.HEDGE_FUND)
    assert game.scorer.standing(HF).pnl == -2
    with pytest.raises(ValueError, match="hedge_fund"):
        game.scorer.add_team(HF, "Charlie", Role.ARBITRAGE)


@pytest.mark.parametrize(
    "fields",
    [
        {"markout_ticks": ()},
        {"markout_ticks": (5, 1)},
        {"markout_ticks": (0, 1)},
        {"quote_share": 0.0},
        {"uptime_required": 1.5},
        {"delta_penalty": -1.0},
        {"obligation_penalty": float("nan")},
        {"balance_ratio": 0.5},
        {"response_ticks": 0},
        {"max_pnl_points": 1},
        {"arbitrage_underlyings": ()},
    ],
)
def test_config_refuses_bad_values(fields: dict[str, object]) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(fields, ScoringConfig)


def test_config_defaults_and_unknown_keys() -> None:
    config = msgspec.convert({}, ScoringConfig)
    assert config.markout_ticks == (1, 5, 30) and config.middle_horizon == 5
    assert (config.quote_share, config.uptime_required, config.obligation_penalty) == (
        0.8, 0.8, 10_000.0,
    )  # fmt: skip
    assert (config.delta_limit, config.delta_penalty) == (50.0, 10.0)
    assert (config.balance_ratio, config.balance_penalty, config.response_ticks) == (2.0, 100.0, 1)
    assert config.leaderboard_interval == 5.0
    with pytest.raises(msgspec.ValidationError, match="markout"):
        msgspec.convert({"markouts": [1]}, ScoringConfig)
