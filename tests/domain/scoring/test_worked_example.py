"""The worked example of docs/scoring.md, step by step, so the page stays true."""

from __future__ import annotations

from exchange.domain.types import Role, Side, TeamId, Ticks, TimeNs
from tests.domain.scoring.support import CALL, SPX, Game

ALPHA, CHARLIE, HOUSE = TeamId("alpha"), TeamId("charlie"), TeamId("house")
TEAMS = {
    ALPHA: ("Alpha", Role.MARKET_MAKER),
    CHARLIE: ("Charlie", Role.HEDGE_FUND),
    HOUSE: ("House", Role.HOUSE),
}
SPOTS = {"SPX": 4400.0, "SPY": 440.0}


def test_the_worked_example() -> None:
    game = Game(teams=TEAMS)
    scorer = game.scorer
    scorer.delist_instruments([i for i in game.instruments if i != CALL.id])
    scorer.list_instruments([game.instruments[SPX]])  # an underlying: not quoted for uptime

    game.trade(CHARLIE, ALPHA, 2, 1_200, CALL.id, aggressor=Side.BUY, mid=1_180)  # step 1
    alpha = scorer.standing(ALPHA).to_wire()
    assert alpha["kpis"]["spread_capture"] == 40.0
    assert alpha["fees_received"] == 0.04
    assert alpha["kpis"]["inventory"] == 2

    scorer.on_news(TimeNs(15), "Strong jobs report")  # step 2
    assert scorer.pnl(CHARLIE) == -4_004

    marks = {CALL.id: Ticks(1_210), SPX: Ticks(440_000)}  # step 3
    scorer.observe(TimeNs(20), marks, {CALL.id: 0.55}, SPOTS, {ALPHA: [CALL.id]})
    charlie = scorer.standing(CHARLIE).to_wire()
    assert (charlie["pnl"], charlie["kpis"]["delta"], charlie["penalties"]) == (
        19.96, 110.0, 600.0,
    )  # fmt: skip
    assert scorer.report(CHARLIE).timeline[0].kind == "delta_limit_breach"
    assert scorer.standing(ALPHA).to_wire()["pnl"] == -19.96

    game.trade(HOUSE, CHARLIE, 110, 440_000, SPX, aggressor=Side.SELL)  # step 4
    assert scorer.standing(CHARLIE).to_wire()["fees_paid"] == 2.24

    marks = {CALL.id: Ticks(1_190), SPX: Ticks(439_900)}  # step 5
    spots = {"SPX": 4399.0, "SPY": 440.0}
    scorer.observe(TimeNs(40), marks, {CALL.id: 0.5}, spots, {ALPHA: []})
    alpha = scorer.standing(ALPHA).to_wire()
    assert (alpha["kpis"]["uptime"], alpha["penalties"]) == (0.5, 3_750.0)
    assert (alpha["pnl"], alpha["score"]) == (20.04, -3_729.96)
    charlie = scorer.standing(CHARLIE).to_wire()
    assert charlie["kpis"]["delta"] == -10.0
    assert (charlie["pnl"], charlie["score"]) == (87.76, -512.24)
    assert scorer.report(CHARLIE).timeline[-1].kind == "delta_limit_restored"
    first = scorer.report(CHARLIE).to_wire()["markouts"][0]["all"]
    assert (first["total"], first["contracts"], first["mean_per_contract"]) == (130.0, 112, 1.16)

    scorer.on_news(TimeNs(45), "No major news today")  # step 6
    kpis = scorer.standing(CHARLIE).to_wire()["kpis"]
    assert kpis["window_pnl_last"] == kpis["window_pnl_mean"] == 127.8
    game.assert_consistent()
