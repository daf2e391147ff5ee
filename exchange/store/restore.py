"""Rebuild the ledger from what was committed, and fingerprint it (SPEC section 9).

How this works: accounts are opened for every stored team, then every trade is booked
again in trade id order with the fees stored on it, then every expiry settlement. Booking
goes through `Account.book`, the ledger's own primitive, not `Ledger.apply`: `apply`
would recompute fees from today's schedule (a config change would move cash), and
`Ledger.settle` needs the expired option still listed, which after a restart it is not.

Trades first, settlements after is exact: each instrument's book is independent of the
others (cash only adds up), and a settlement is the last thing that happens to its
instrument, so per instrument the order of events is the original one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from functools import lru_cache

import msgspec

from exchange.domain.instruments import parse_instrument_id
from exchange.domain.positions import Account, Ledger, Settlement
from exchange.domain.types import InstrumentId, TeamId
from exchange.store.db import Database
from exchange.store.schema import StoreError
from exchange.teams import Team

Multiplier = Callable[[str], int]


class RestoreError(StoreError):
    """What was committed does not add up: a trade of an unknown team, a settlement of a
    position nobody held. Restarting on it would publish wrong positions."""


@lru_cache(maxsize=4096)
def multiplier_of(instrument_id: str) -> int:
    """The contract multiplier an instrument id spells (it names underlying or option)."""
    return parse_instrument_id(instrument_id).multiplier


def restore_ledger(db: Database, ledger: Ledger, multiplier: Multiplier = multiplier_of) -> int:
    """Replay committed trades and settlements into `ledger`; return the trades replayed.

    Accounts the ledger already holds (the house, opened by the server) are kept and
    booked into; stored teams without one are opened. Raises RestoreError, and leaves
    the ledger half-built, if a trade names a team with no account.
    """
    for team in db.load_teams():
        if team.team_id not in ledger:
            ledger.open_account(team.team_id, team.role)
    count = 0
    for iid, price, qty, buyer, seller, buy_fee, sell_fee in db.bookings():
        instrument, mult = InstrumentId(iid), multiplier(iid)
        _account(ledger, buyer).book(instrument, qty, price, mult, buy_fee)
        _account(ledger, seller).book(instrument, -qty, price, mult, sell_fee)
        count += 1
    _replay_settlements(ledger, db.load_settlements(), multiplier)
    return count


def _replay_settlements(
    ledger: Ledger, settlements: list[Settlement], multiplier: Multiplier
) -> None:
    by_instrument: dict[InstrumentId, list[Settlement]] = {}
    for s in settlements:
        by_instrument.setdefault(s.instrument_id, []).append(s)
    for iid, group in by_instrument.items():
        mult = multiplier(iid)
        settled = {s.team_id for s in group}
        for s in group:
            account = _account(ledger, s.team_id)
            held = account.positions.get(iid, 0)
            if held != s.quantity:
                raise RestoreError(f"{s.team_id} settles {s.quantity} {iid} but holds {held}")
            account.book(iid, -s.quantity, s.value_ticks, mult, 0)
        for account in ledger.accounts():
            if account.positions.get(iid, 0) != 0 and account.team_id not in settled:
                raise RestoreError(f"{account.team_id} still holds expired {iid}")
            # As Ledger.settle does: the instrument leaves every account.
            account.positions.pop(iid, None)
            account.open_costs.pop(iid, None)


def _account(ledger: Ledger, team_id: str) -> Account:
    if team_id not in ledger:
        raise RestoreError(f"a stored trade names team {team_id!r}, which has no account")
    return ledger.account(TeamId(team_id))


def state_hash(ledger: Ledger, teams: Iterable[Team]) -> str:
    """sha256 of teams and accounts in a canonical form: equal iff the states are equal.

    Sorted by id; a position entry that is flat with no open cost is left out, since it
    means the same as no entry (a live ledger keeps one after closing a position).
    """
    canonical_teams = sorted((t.team_id, t.name, t.role.value, t.key_hash) for t in teams)
    accounts = sorted(
        (
            a.team_id, a.role.value, a.cash_ticks, a.fees_ticks, a.realised_pnl_ticks,
            sorted((iid, qty, cost) for iid, (qty, cost) in a.state().positions.items()
                   if qty or cost),
        )
        for a in ledger.accounts()
    )  # fmt: skip
    encoded = msgspec.json.encode({"accounts": accounts, "teams": canonical_teams})
    return hashlib.sha256(encoded).hexdigest()
