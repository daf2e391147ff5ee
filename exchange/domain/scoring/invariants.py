"""The invariants of SPEC section 7, checked over any set of accounts.

Every trade books +q on one account and -q on another at the same price, so summed over
all accounts (the house included) every instrument's position is zero and premiums
cancel, leaving total cash equal to total fees (positive when received; the exchange
keeps the rest, so cash sums to minus the fees paid to it). Settlement keeps both: the
exchange pays out and collects the same amount. The checks return messages rather than
raising, so a test, a replay or an operator can show every broken rule at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from exchange.domain.positions import Account, Ledger
from exchange.domain.types import InstrumentId, TeamId


class AccountLike(Protocol):
    """What the checks read: a `positions.Account` or the scorer's `MirrorAccount`."""

    @property
    def team_id(self) -> TeamId: ...
    @property
    def positions(self) -> Mapping[InstrumentId, int]: ...
    @property
    def cash_ticks(self) -> int: ...
    @property
    def fees_ticks(self) -> int: ...


def check_invariants(accounts: Iterable[Account] | Ledger) -> list[str]:
    """Broken invariants over a ledger's (or any) accounts; empty when all hold."""
    items = accounts.accounts() if isinstance(accounts, Ledger) else list(accounts)
    problems = check_balances(items)
    for account in items:
        # The ledger's own identity (see positions.py): premium cash = realised - open cost.
        premium = account.cash_ticks - account.fees_ticks
        if premium != account.realised_pnl_ticks - account.open_cost_ticks:
            problems.append(
                f"{account.team_id}: cash - fees {premium} != realised - open cost "
                f"{account.realised_pnl_ticks - account.open_cost_ticks}"
            )
    return problems


def check_balances(accounts: Iterable[AccountLike]) -> list[str]:
    """Positions sum to zero per instrument; total cash equals total fees."""
    net: dict[InstrumentId, int] = {}
    cash = fees = 0
    for account in accounts:
        cash += account.cash_ticks
        fees += account.fees_ticks
        for iid, qty in account.positions.items():
            net[iid] = net.get(iid, 0) + qty
    problems = [f"{iid}: positions sum to {qty}, not 0" for iid, qty in net.items() if qty]
    if cash != fees:
        problems.append(f"total cash {cash} != total fees {fees}")
    return problems


def compare_accounts(
    mirror: Iterable[AccountLike], ledger: Iterable[AccountLike] | Ledger
) -> list[str]:
    """Where two sets of accounts disagree (teams, non-zero positions, cash, net fees)."""
    theirs = {a.team_id: a for a in (ledger.accounts() if isinstance(ledger, Ledger) else ledger)}
    ours = {a.team_id: a for a in mirror}
    problems = [f"{t}: only in the mirror" for t in ours if t not in theirs]
    problems += [f"{t}: only in the ledger" for t in theirs if t not in ours]
    for team_id in ours.keys() & theirs.keys():
        problems += _differences(ours[team_id], theirs[team_id])
    return sorted(problems)


def _differences(ours: AccountLike, theirs: AccountLike) -> list[str]:
    team = ours.team_id
    problems: list[str] = []
    if ours.cash_ticks != theirs.cash_ticks:
        problems.append(f"{team}: cash {ours.cash_ticks} != ledger {theirs.cash_ticks}")
    if ours.fees_ticks != theirs.fees_ticks:
        problems.append(f"{team}: fees {ours.fees_ticks} != ledger {theirs.fees_ticks}")
    held = _held(ours.positions)
    other = _held(theirs.positions)
    problems.extend(
        f"{team}: {iid} position {held.get(iid, 0)} != ledger {other.get(iid, 0)}"
        for iid in sorted(held.keys() | other.keys())
        if held.get(iid, 0) != other.get(iid, 0)
    )
    return problems


def _held(positions: Mapping[InstrumentId, int]) -> dict[InstrumentId, int]:
    return {iid: qty for iid, qty in positions.items() if qty}
