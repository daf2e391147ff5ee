"""A recorded game (its SQLite database) as a scenario, for `replay game.db --swap ...`.

The server stores its effective config and the game's first moment (`game_state`), and
every accepted order with its time and, if cancelled, when and why. The scenario made
from them has the same seed, config and clock, every team as a scripted participant
whose orders, quotes and cancels come back at their recorded game times, and the house
scripted the same way (its own bots are switched off), so the market around a swapped
team is the recorded one. Cancels the exchange makes by itself (a quote replaced, the
close, an expiry, an unfilled auction order) are not scripted: the replay makes them.

Replays step through game time, so orders recorded within one step of each other arrive
together, in their recorded order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import msgspec

from exchange.config import merge
from exchange.domain.orders import Order
from exchange.domain.phases import from_ns
from exchange.domain.ticks import to_price
from exchange.domain.types import NS_PER_SECOND, CancelReason, OrderStatus, OrderType, Role, Side
from exchange.replay.scenario import Participant, Scenario, ScriptedAction
from exchange.store import rows
from exchange.store.db import Database
from exchange.store.schema import COLUMNS

SCRIPTED_CANCELS = {CancelReason.USER, CancelReason.DEAD_MANS_SWITCH, CancelReason.RESTART,
                    CancelReason.GAME_STOPPED, CancelReason.TEAM_DISABLED}  # fmt: skip
"""Cancels a team or the organiser asked for; the others the replay makes by itself."""

HOUSE_OFF = {"market": {"house_liquidity": False, "house_options_maker": False,
                        "retail": False}}  # fmt: skip


def is_database(path: str | Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def scenario_from_db(path: str | Path, step_seconds: int = 1) -> Scenario:
    """The recorded game as a scenario; ValueError when the database cannot tell enough."""
    with Database.open(str(path)) as db:
        state = db.load_game_state()
        if "config" not in state or "start_ns" not in state:
            raise ValueError(f"{path}: the game's config and start are not recorded "
                             "(a database from an older server)")  # fmt: skip
        teams = db.read_table("teams")
        orders = _orders(db)
    start_ns, config = int(state["start_ns"]), merge(state["config"], HOUSE_OFF)
    names = {str(t[0]): str(t[1]) for t in teams}
    end_ns = max([int(state.get("game_time_ns", start_ns))] + [o[1] for o in orders])
    zone = dt.timezone(dt.timedelta(seconds=_offset(config)))
    return Scenario(
        name=f"{Path(path).stem}-recorded",
        seed=int(state.get("seed", config.get("seed", 1))),
        description=f"the game recorded in {Path(path).name}",
        config=config,
        start=from_ns(start_ns, zone),
        duration=max(1, (end_ns - start_ns) // NS_PER_SECOND + step_seconds),
        step_seconds=step_seconds,
        participants=[Participant(names[t[0]], Role(t[2])) for t in teams],
        script=list(_script(orders, names, start_ns)),
    )


def _orders(db: Database) -> list[tuple[Order, int, str | None]]:
    """Every order with the time it ended (or was last touched) and its cancel reason."""
    columns = COLUMNS["orders"]
    sql = f"SELECT {', '.join(columns)} FROM orders ORDER BY order_id"
    reason_at, updated_at = columns.index("cancel_reason"), columns.index("updated_ns")
    out = []
    for row in db.conn.execute(sql):
        order = rows.order_from_row(row)
        out.append((order, int(row[updated_at]), row[reason_at]))
    return out


def _script(
    orders: list[tuple[Order, int, str | None]], names: Mapping[str, str], start_ns: int
) -> Iterator[ScriptedAction]:
    """Orders and quotes at their creation, scripted cancels at their time, in time order."""
    items: list[tuple[int, int, ScriptedAction]] = []
    for n, action in enumerate(_placements(orders, names, start_ns)):
        items.append((_offset_of(action), n, action))
    for order, updated_ns, reason in orders:
        if order.status is OrderStatus.CANCELLED and reason in SCRIPTED_CANCELS:
            at = _at(updated_ns, start_ns)
            cancel = ScriptedAction(at, names[order.team_id], "cancel", ref=str(order.order_id))
            items.append((updated_ns - start_ns, len(items), cancel))
    items.sort(key=lambda item: (item[0], item[1]))
    return (action for _, _, action in items)


def _placements(
    orders: Iterable[tuple[Order, int, str | None]], names: Mapping[str, str], start_ns: int
) -> Iterator[ScriptedAction]:
    pending_bid: Order | None = None
    for order, _, _ in orders:
        if order.status is OrderStatus.REJECTED:
            continue
        team, at = names[order.team_id], _at(order.ts_ns, start_ns)
        if order.order_type is OrderType.QUOTE:
            if order.side is Side.BUY:
                pending_bid = order
                continue
            if pending_bid is not None and pending_bid.instrument_id == order.instrument_id:
                yield _quote(team, at, pending_bid, order)
            pending_bid = None
            continue
        price = None if order.price is None else to_price(order.price)
        yield ScriptedAction(
            at, team, "order", order.instrument_id, order.side, order.quantity, price,
            ref=str(order.order_id),
        )  # fmt: skip


def _quote(team: str, at: str, bid: Order, ask: Order) -> ScriptedAction:
    assert bid.price is not None and ask.price is not None
    return ScriptedAction(
        at, team, "quote", bid.instrument_id, bid_price=to_price(bid.price),
        bid_quantity=bid.quantity, ask_price=to_price(ask.price), ask_quantity=ask.quantity,
        ref=f"{bid.order_id}+{ask.order_id}",
    )  # fmt: skip


def _at(ts_ns: int, start_ns: int) -> str:
    """An offset from the start, to the millisecond."""
    return f"+{max(0, ts_ns - start_ns) / 1e9:.3f}s"


def _offset_of(action: ScriptedAction) -> int:
    return round(float(action.at[1:-1]) * NS_PER_SECOND)


def _offset(config: Mapping[str, Any]) -> int:
    """The recorded clock start's UTC offset, so times print as they did in the game."""
    start = config.get("clock", {}).get("start")
    if start is None:
        return 0
    moment = msgspec.convert(start, dt.datetime)
    offset = moment.utcoffset()
    return 0 if offset is None else int(offset.total_seconds())
