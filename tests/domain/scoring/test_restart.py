"""A scorer after a restart: it catches up with the committed fills, values positions it
has no mark for without failing, and its saved state stays small however much trades."""

from __future__ import annotations

from exchange.domain.orders import Trade
from exchange.domain.positions import Fill
from exchange.domain.scoring import Scorer, ScoringConfig, markouts
from exchange.domain.types import OrderId, Side, TeamId, Ticks, TimeNs, TradeId
from tests.domain.scoring.support import CALL, HF, HOUSE, INSTRUMENTS, MM, SPX, SPY, TEAMS, Game


def _fresh(config: ScoringConfig | None = None) -> Scorer:
    scorer = Scorer(INSTRUMENTS, config or ScoringConfig())
    for team_id, (name, role) in TEAMS.items():
        scorer.add_team(team_id, name, role)
    return scorer


def test_a_position_without_a_mark_is_valued_at_its_open_price_and_named() -> None:
    game = Game()
    game.ledger.apply(game_trade(game, HF, MM, 3, 45_000))  # the scorer never saw it
    scorer = _fresh()
    scorer.adopt(game.ledger)
    standing = scorer.standing(HF)
    assert standing.unmarked == [SPY]
    assert standing.pnl == game.ledger.account(HF).cash_ticks + 3 * 45_000
    assert scorer.standing(MM).unmarked == [SPY]
    scorer.on_news(TimeNs(1), "No major news today")  # these value P&L too
    assert scorer.report(HF).standing == standing
    assert {t.team_id for t in scorer.leaderboard().overall} >= {HF, MM}
    scorer.update_marks({SPY: Ticks(45_100)})
    assert scorer.standing(HF).unmarked == []
    assert scorer.standing(HF).pnl == game.ledger.account(HF).cash_ticks + 3 * 45_100


def game_trade(game: Game, buyer: TeamId, seller: TeamId, qty: int, price: int) -> Trade:
    """A trade in SPY the ledger books but the scorer is not told of (what a crash loses)."""
    n = 1_000 + game.now
    return Trade(
        TradeId(n), SPY, Ticks(price), qty, buyer, seller, OrderId(2 * n), OrderId(2 * n + 1),
        0, 0, Side.BUY, game.tick(),
    )  # fmt: skip


def test_a_restored_scorer_books_only_the_fills_above_its_last_trade() -> None:
    game = Game()
    first = game.trade(HF, MM, 2, 1_000, CALL.id)
    game.observe({CALL.id: 1_000})
    saved = game.scorer.snapshot()
    second = game.trade(HF, MM, 3, 1_010, CALL.id)
    game.observe({CALL.id: 1_020})
    restored = Scorer.restore(INSTRUMENTS, game.scorer.config, saved)
    assert restored.last_trade_id == first[0].trade_id
    fills: list[Fill] = [*first, *second]
    assert restored.catch_up(fills, []) == 2
    restored.observe(TimeNs(game.now), {CALL.id: Ticks(1_020)}, {}, {}, {})
    assert restored.compare_with(game.ledger) == []
    assert restored.report(HF).fills == 2
    assert restored.report(HF).contracts == 5
    assert restored.report(HF).markouts == game.scorer.report(HF).markouts
    assert restored.catch_up(fills, []) == 0  # a second catch-up books nothing twice


def test_the_saved_state_does_not_grow_with_fills_at_the_same_prices() -> None:
    def state_after(fills: int) -> int:
        game = Game()
        for n in range(fills):
            game.trade(HF, MM, 1, 1_000 + n % 3, CALL.id, aggressor=Side.BUY)
        game.observe({CALL.id: 1_000})
        return len(game.scorer.snapshot())

    # Only wider integers (cash, counts, the last trade id): no bytes per fill.
    assert state_after(3_000) - state_after(300) < 64


def test_pending_markouts_keep_at_most_the_longest_horizon_of_buckets() -> None:
    game = Game()
    for n in range(80):
        game.trade(HF, MM, 1, 1_000 + n, CALL.id)
        game.observe({CALL.id: 1_000 + n})
    state = game.scorer._s  # the saved state itself: what bounds its size
    assert len(state.pending) <= 30 + 1
    assert state.pending_lots == sum(markouts.lot_count(b) for b in state.pending)
    assert game.scorer.report(HF).markouts[2].all.count == 80 - 30 + 1  # fills 0 to 50


def test_lots_add_up_exactly_like_fills_one_by_one() -> None:
    game = Game()
    for n in range(12):
        game.trade(HF, MM, 1 + n % 2, 1_000 + n % 4, CALL.id, aggressor=Side.BUY)
        game.trade(MM, HF, 2, 1_001, CALL.id, aggressor=Side.SELL)
        game.trade(HOUSE, HF, 1, 440_000 + n, SPX, aggressor=Side.SELL)
    for k in range(31):
        game.observe({CALL.id: 995 + k, SPX: 440_000 - k})
    report = game.scorer.report(MM)
    # By hand at horizon 5 (mark 9.99): MM sold 18 at 10.00-10.03 as maker and bought
    # 24 at 10.01 as maker, in 24 fills.
    sold = sum((1 + n % 2) * (999 - (1_000 + n % 4)) * -100 for n in range(12))
    bought = 24 * (999 - 1_001) * 100
    assert report.markouts[1].all.total == sold + bought
    assert report.markouts[1].maker.count == 24
    assert report.markouts[1].maker.contracts == 18 + 24
    assert report.adverse_selection.adverse_fills == 12  # every maker buy at 10.01


def test_fills_past_the_lot_limit_are_counted_untracked() -> None:
    game = Game(ScoringConfig(max_pending_lots=2))
    for price in (1_000, 1_001, 1_002, 1_000):
        game.trade(HF, HOUSE, 1, price, CALL.id)
    assert game.scorer.report(HF).markouts_untracked == 1
    for _ in range(31):
        game.observe({CALL.id: 1_000})
    assert game.scorer.report(HF).markouts[0].all.count == 3
    game.trade(HF, HOUSE, 1, 1_003, CALL.id)  # room again once the lots resolved
    assert game.scorer.report(HF).markouts_untracked == 1


def test_a_restored_scorer_adds_new_fills_to_the_lots_it_restored() -> None:
    game = Game()
    game.observe({CALL.id: 1_000})
    game.trade(HF, MM, 1, 1_000, CALL.id)
    restored = Scorer.restore(INSTRUMENTS, game.scorer.config, game.scorer.snapshot())
    more = game.trade(HF, MM, 1, 1_000, CALL.id)  # same lot, same observation
    assert restored.catch_up(more, []) == 2
    assert restored.snapshot() == game.scorer.snapshot()


def test_a_held_instrument_the_scorer_never_listed_is_learnt_from_its_id() -> None:
    game = Game()
    game.trade(HF, MM, 2, 1_000, CALL.id)
    scorer = Scorer({SPX: INSTRUMENTS[SPX]}, ScoringConfig())  # a chain without CALL
    for team_id, (name, role) in TEAMS.items():
        scorer.add_team(team_id, name, role)
    scorer.adopt(game.ledger)
    unvalued = scorer.observe(TimeNs(1), {}, {CALL.id: 0.5}, {"SPX": 4400.0}, {})
    assert unvalued == {}
    assert scorer.standing(HF).pnl == game.ledger.account(HF).cash_ticks + 2 * 1_000 * 100
    assert scorer.standing(HF).unmarked == [CALL.id]
