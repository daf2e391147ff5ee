"""The game's state machine on its own: every move from every state."""

from __future__ import annotations

import pytest

from exchange.domain.game_state import MOVES, REFUSALS, GameState, Refusal, move

W, R, P, S = GameState.WAITING, GameState.RUNNING, GameState.PAUSED, GameState.STOPPED


@pytest.mark.parametrize(
    ("state", "action", "target"),
    [(W, "start", R), (R, "pause", P), (P, "resume", R), (W, "stop", S), (R, "stop", S),
     (P, "stop", S)],
)  # fmt: skip
def test_each_allowed_move_leads_where_it_says(
    state: GameState, action: str, target: GameState
) -> None:
    assert move(state, action) is target


def test_every_other_move_is_refused_as_a_conflict_naming_the_state() -> None:
    allowed = {(W, "start"), (R, "pause"), (P, "resume"), (W, "stop"), (R, "stop"), (P, "stop")}
    for state in GameState:
        for action in MOVES:
            if (state, action) in allowed:
                continue
            refused = move(state, action)
            assert isinstance(refused, Refusal)
            assert refused.code == "GAME_STATE_CONFLICT"
            assert refused.details == {"state": state}


def test_orders_are_taken_only_while_running() -> None:
    assert [s for s in GameState if REFUSALS[s] is None] == [R]
