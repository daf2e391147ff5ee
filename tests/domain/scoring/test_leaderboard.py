"""The leaderboard: ranked by score within each role and overall; house and retail apart."""

from __future__ import annotations

import msgspec

from exchange.domain.scoring import Leaderboard
from exchange.domain.types import Role, Side, TeamId
from tests.domain.scoring.support import (
    ARB,
    HF,
    HOUSE,
    MM,
    MM2,
    OPTION_IDS,
    RETAIL,
    SPX,
    TEAMS,
    Game,
)

ARB2 = TeamId("arb2")


def _game() -> Game:
    teams = {**TEAMS, ARB2: ("Aardvark", Role.ARBITRAGE)}
    game = Game(teams=teams)
    game.trade(HF, HOUSE, 1, 440_000, SPX)  # HF: 1_000 up at the mark, less a 2 tick fee
    game.trade(ARB2, HOUSE, 1, 440_000, SPX)  # one-sided: balance penalty 10_000
    game.trade(HOUSE, RETAIL, 1, 440_000, SPX, aggressor=Side.SELL)
    game.observe({SPX: 441_000}, quoted={MM: OPTION_IDS, MM2: OPTION_IDS})
    return game


def test_overall_ranks_by_score_with_ties_by_name_and_house_excluded() -> None:
    board = _game().scorer.leaderboard()
    assert [(s.name, s.rank, s.score) for s in board.overall] == [
        ("Charlie", 1, 998),
        ("Alpha", 2, 0),
        ("Bravo", 3, 0),
        ("Delta", 4, 0),
        ("Aardvark", 5, 1_000 - 2 - 10_000),
    ]
    assert [(s.name, s.rank) for s in board.house] == [("House", None), ("Retail", None)]
    assert board.as_of_ns is not None


def test_by_role_ranks_within_each_role() -> None:
    board = _game().scorer.leaderboard()
    assert list(board.by_role) == ["market_maker", "hedge_fund", "arbitrage"]
    assert [(s.team_id, s.rank) for s in board.by_role["market_maker"]] == [(MM, 1), (MM2, 2)]
    assert [(s.team_id, s.rank) for s in board.by_role["hedge_fund"]] == [(HF, 1)]
    assert [(s.team_id, s.rank) for s in board.by_role["arbitrage"]] == [(ARB, 1), (ARB2, 2)]


def test_the_wire_board_is_each_score_on_the_wire_with_its_own_rank() -> None:
    board = _game().scorer.leaderboard()
    wire = board.to_wire()
    for role, scores in board.by_role.items():
        own = [s.to_wire() for s in scores]
        assert msgspec.json.encode(wire["by_role"][role]) == msgspec.json.encode(own)
    assert wire["overall"] == [s.to_wire() for s in board.overall]
    assert [r["rank"] for r in wire["by_role"]["arbitrage"]] == [1, 2]
    assert {r["team_id"]: r["rank"] for r in wire["overall"]}[ARB2] == 5


def test_a_rename_moves_a_tie() -> None:
    game = _game()
    game.scorer.add_team(MM, "Zulu", Role.MARKET_MAKER)
    board = game.scorer.leaderboard()
    assert [s.team_id for s in board.by_role["market_maker"]] == [MM2, MM]


def test_leaderboard_goes_to_the_wire_in_currency() -> None:
    board = _game().scorer.leaderboard()
    wire = board.to_wire()
    first = wire["overall"][0]
    assert (first["team_id"], first["pnl"], first["fees_paid"], first["score"]) == (
        "hf", 9.98, 0.02, 9.98,
    )  # fmt: skip
    aardvark = wire["by_role"]["arbitrage"][1]
    assert aardvark["kpis"]["balance_penalty"] == 100.0
    assert aardvark["penalties"] == 100.0
    assert aardvark["role"] == "arbitrage"
    assert msgspec.json.decode(msgspec.json.encode(wire)) == wire


def test_leaderboard_encodes_as_a_struct_and_decodes_back() -> None:
    board = _game().scorer.leaderboard()
    assert msgspec.json.decode(msgspec.json.encode(board), type=Leaderboard) == board


def test_house_has_no_kpis_and_no_penalty() -> None:
    standing = _game().scorer.standing(HOUSE)
    assert standing.kpis == {}
    assert standing.penalties == 0
    assert standing.pnl == -1_000  # net short 1 SPX sold at 4400, marked at 4410
