"""The game's state machine (SPEC section 8): the game-wide states, the organiser's moves
between them, and what new orders are refused with in each. Pure: the organiser's
controls (`exchange/control.py`) take the actions and apply the state to the venue and
the clock.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple


class GameState(StrEnum):
    WAITING = "waiting"
    """Configured with `clock.start_paused`: the clock waits for `start`."""
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


MOVES: dict[str, tuple[frozenset[GameState], GameState]] = {
    "start": (frozenset({GameState.WAITING}), GameState.RUNNING),
    "pause": (frozenset({GameState.RUNNING}), GameState.PAUSED),
    "resume": (frozenset({GameState.PAUSED}), GameState.RUNNING),
    "stop": (frozenset({GameState.WAITING, GameState.RUNNING, GameState.PAUSED}),
             GameState.STOPPED),
}  # fmt: skip
"""Each game-wide action: the states it may be taken from, and the state it leads to."""

REFUSALS: dict[GameState, tuple[str, str] | None] = {
    GameState.WAITING: ("GAME_NOT_STARTED", "the game has not started yet; cancels work"),
    GameState.RUNNING: None,
    GameState.PAUSED: ("GAME_PAUSED", "the organiser has paused the game; cancels work"),
    GameState.STOPPED: ("GAME_STOPPED", "the game is over; reads still work"),
}
"""What every new order is refused with in each state (None: orders are taken)."""

STILL = frozenset({GameState.WAITING, GameState.PAUSED, GameState.STOPPED})
"""States in which the game clock stands still."""


class Refusal(NamedTuple):
    """An action the control would not take; nothing changed."""

    code: str
    message: str
    details: dict[str, Any]
    status: int | None = None
    """The HTTP status when it is not the code's usual one."""


def conflict(message: str, **details: Any) -> Refusal:
    return Refusal("GAME_STATE_CONFLICT", message, details)


def move(state: GameState, action: str) -> GameState | Refusal:
    """The state a game-wide action leads to from `state`, or why it may not be taken."""
    allowed, target = MOVES[action]
    if state not in allowed:
        return conflict(f"cannot {action} a game that is {state}", state=state)
    return target
