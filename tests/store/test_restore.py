"""A restart restores teams, positions and cash exactly from what was committed (SPEC 9)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from exchange.domain.fees import DEFAULT_FEES, FeeSchedule
from exchange.domain.instruments import intrinsic_value
from exchange.domain.positions import Ledger
from exchange.domain.types import Role, TeamId, TimeNs
from exchange.store import rows
from exchange.store.db import Database
from exchange.store.restore import RestoreError, restore_ledger, state_hash
from exchange.store.rows import Batch

from .support import CALL, INSTRUMENTS, T0, batch_of, book, make_teams, new_ledger, random_trades


def write_in_batches(db: Database, batch: Batch, size: int = 1000) -> None:
    """The writer's way: teams first, then trades in batches of at most `size` rows."""
    db.write_batch(Batch(teams=batch.teams))
    for start in range(0, len(batch.trades), size):
        part = Batch(trades=batch.trades[start : start + size])
        part.order_fills = batch.order_fills[2 * start : 2 * (start + size)]
        db.write_batch(part)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_restore_from_the_file_gives_the_same_state_hash(tmp_path: Path, seed: int) -> None:
    teams = make_teams()
    live = new_ledger(teams)
    booked = book(live, random_trades(teams, 2500, seed))
    with Database.open(tmp_path / "game.db") as db:
        write_in_batches(db, batch_of(teams, booked))
        assert db.transactions == 1 + 3

    with Database.open(tmp_path / "game.db") as db:
        restored = Ledger(INSTRUMENTS, DEFAULT_FEES)
        assert restore_ledger(db, restored) == 2500
        stored_teams = db.load_teams()

    assert state_hash(restored, stored_teams) == state_hash(live, teams)
    assert sorted(restored.snapshot(), key=lambda s: s.team_id) == sorted(
        live.snapshot(), key=lambda s: s.team_id
    )
    assert restored.net_positions() == live.net_positions()
    assert restored.total_cash() == restored.total_fees()


def test_restore_uses_the_stored_fees_not_todays_schedule(tmp_path: Path) -> None:
    teams = make_teams()
    live = new_ledger(teams)
    booked = book(live, random_trades(teams, 400, seed=21))
    with Database.open(tmp_path / "game.db") as db:
        write_in_batches(db, batch_of(teams, booked))
        changed = {role: FeeSchedule(maker_ticks=9, taker_ticks=-9) for role in Role}
        restored = Ledger(INSTRUMENTS, changed)
        restore_ledger(db, restored)
    assert state_hash(restored, teams) == state_hash(live, teams)


def test_restore_replays_expiry_settlements_of_delisted_options(tmp_path: Path) -> None:
    teams = make_teams()
    live = new_ledger(teams)
    booked = book(live, random_trades(teams, 600, seed=31))
    settled = live.settle(CALL.id, intrinsic_value(CALL, 441_250), TimeNs(T0 + 10_000))
    assert settled  # some team held the call
    batch = batch_of(teams, booked)
    batch.settlements = [rows.settlement_row(s) for s in settled]
    with Database.open(tmp_path / "game.db") as db:
        db.write_batch(batch)
        assert db.load_settlements() == settled
        # After a restart the expired call is no longer listed: the id gives its multiplier.
        listed = {iid: i for iid, i in INSTRUMENTS.items() if iid != CALL.id}
        restored = Ledger(listed, DEFAULT_FEES)
        restore_ledger(db, restored)
    assert state_hash(restored, teams) == state_hash(live, teams)
    assert all(CALL.id not in a.positions for a in restored.accounts())


def test_accounts_the_server_opened_first_are_kept(tmp_path: Path) -> None:
    teams = make_teams()
    live = new_ledger(teams)
    booked = book(live, random_trades(teams, 100, seed=41))
    house = teams[0]
    assert house.role is Role.HOUSE
    with Database.open(tmp_path / "game.db") as db:
        # The house traded but, as the server may do, was never stored as a team.
        db.write_batch(batch_of(teams[1:], booked))
        restored = Ledger(INSTRUMENTS, DEFAULT_FEES)
        restored.open_account(house.team_id, Role.HOUSE)
        restore_ledger(db, restored)
    assert state_hash(restored, teams) == state_hash(live, teams)


def test_a_trade_of_a_team_without_account_is_a_restore_error(tmp_path: Path) -> None:
    teams = make_teams()
    booked = book(new_ledger(teams), random_trades(teams, 50, seed=51))
    with Database.open(tmp_path / "game.db") as db:
        db.write_batch(batch_of(teams[1:], booked))  # the house is missing
        with pytest.raises(RestoreError, match="no account"):
            restore_ledger(db, Ledger(INSTRUMENTS, DEFAULT_FEES))


def test_state_hash_sees_every_difference_and_ignores_order() -> None:
    teams = make_teams()
    ledger = new_ledger(teams)
    book(ledger, random_trades(teams, 50, seed=61))
    before = state_hash(ledger, teams)
    assert state_hash(ledger, list(reversed(teams))) == before

    ledger.account(TeamId(teams[2].team_id)).cash_ticks += 1
    assert state_hash(ledger, teams) != before
    ledger.account(TeamId(teams[2].team_id)).cash_ticks -= 1
    assert state_hash(ledger, teams) == before
    renamed = [msgspec.structs.replace(teams[0], name="other"), *teams[1:]]
    assert state_hash(ledger, renamed) != before


def test_a_flat_position_hashes_like_no_position() -> None:
    teams = make_teams()
    ledger = new_ledger(teams)
    empty = state_hash(ledger, teams)
    ledger.account(teams[1].team_id).positions[CALL.id] = 0
    ledger.account(teams[1].team_id).open_costs[CALL.id] = 0
    assert state_hash(ledger, teams) == empty
