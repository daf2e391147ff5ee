"""Team accounts: positions, cash, fees and average-cost P&L, all in integer ticks.

How this works: every trade is booked twice, once per side, as a signed quantity `dq`
(+ for the buyer). Cash moves by the premium (-price x dq x multiplier) plus the fee. Each
instrument keeps an open cost (signed: paid for a long, minus the proceeds of a short).
Growing a position adds to the open cost; shrinking it releases cost pro rata (integer
division, the remainder stays in the open cost) and realises the difference; crossing
zero closes the whole position, then opens the rest at the trade price. So for every
account, at every moment and exactly:

    cash_ticks - fees_ticks == realised_pnl_ticks - open_cost_ticks

Settlement at expiry (SPEC section 7) is a fee-free close at the settlement value.
Summed over all accounts (the house included) positions are zero and cash equals fees.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import msgspec

from exchange.domain.fees import NO_FEES, FeeSchedule, fee_ticks, liquidity_of
from exchange.domain.instruments import Instrument
from exchange.domain.orders import Trade
from exchange.domain.types import (
    InstrumentId,
    Liquidity,
    OrderId,
    Role,
    Side,
    TeamId,
    Ticks,
    TimeNs,
    TradeId,
)


class Fill(msgspec.Struct, frozen=True, gc=False):
    """One side of a trade as its team sees it; `position_after` is after the whole trade."""

    trade_id: TradeId
    team_id: TeamId
    order_id: OrderId
    instrument_id: InstrumentId
    side: Side
    price: Ticks
    quantity: int
    liquidity: Liquidity
    fee_ticks: int
    position_after: int
    ts_ns: TimeNs


class Settlement(msgspec.Struct, frozen=True, gc=False):
    """A position converted to cash at expiry: `cash_ticks` = quantity x value x multiplier."""

    team_id: TeamId
    instrument_id: InstrumentId
    quantity: int
    value_ticks: Ticks
    cash_ticks: int
    realised_pnl_ticks: int
    ts_ns: TimeNs


class AccountState(msgspec.Struct, frozen=True):
    """An account as plain data, for persistence; `positions` maps id -> (qty, open cost)."""

    team_id: TeamId
    role: Role
    cash_ticks: int
    fees_ticks: int
    realised_pnl_ticks: int
    positions: dict[InstrumentId, tuple[int, int]]


class Account:
    """One team's book of positions and money. Only the `Ledger` writes to it."""

    __slots__ = (
        "_instruments",
        "cash_ticks",
        "fees",
        "fees_ticks",
        "open_costs",
        "positions",
        "realised_pnl_ticks",
        "role",
        "team_id",
    )

    def __init__(
        self,
        team_id: TeamId,
        role: Role,
        fees: FeeSchedule,
        instruments: Mapping[InstrumentId, Instrument],
    ) -> None:
        self.team_id = team_id
        self.role = role
        self.fees = fees
        self._instruments = instruments
        self.positions: dict[InstrumentId, int] = {}
        self.open_costs: dict[InstrumentId, int] = {}
        self.cash_ticks = 0
        self.fees_ticks = 0
        self.realised_pnl_ticks = 0

    @property
    def open_cost_ticks(self) -> int:
        return sum(self.open_costs.values())

    def book(self, instrument_id: InstrumentId, dq: int, price: int, mult: int, fee: int) -> int:
        """Book a signed quantity at a price; return the realised P&L. The ledger's hot path."""
        position = self.positions.get(instrument_id, 0)
        cost = self.open_costs.get(instrument_id, 0)
        flow = price * dq * mult
        self.cash_ticks += fee - flow
        self.fees_ticks += fee
        after = position + dq
        realised = 0
        if position == 0 or (position > 0) is (dq > 0):
            cost += flow
        elif after == 0 or (after > 0) is (position > 0):
            # Reduce: release the closed fraction of the cost, truncated toward zero.
            released = abs(cost) * abs(dq) // abs(position)
            if cost < 0:
                released = -released
            realised = -flow - released
            cost -= released
        else:
            # Flip: close all of `position` at `price`, open `after` at `price`.
            realised = price * position * mult - cost
            cost = price * after * mult
        self.realised_pnl_ticks += realised
        self.positions[instrument_id] = after
        self.open_costs[instrument_id] = cost
        return realised

    def market_value(self, marks: Mapping[InstrumentId, Ticks]) -> int:
        """Σ position x mark x multiplier; a missing mark is a KeyError only if held."""
        return sum(
            qty * marks[iid] * self._instruments[iid].multiplier for iid, qty in self._held()
        )

    def unrealised_pnl(self, marks: Mapping[InstrumentId, Ticks]) -> int:
        return self.market_value(marks) - self.open_cost_ticks

    def total_pnl(self, marks: Mapping[InstrumentId, Ticks]) -> int:
        """Cash (premium and fees) plus positions marked (SPEC section 7)."""
        return self.cash_ticks + self.market_value(marks)

    def option_exposure(self) -> int:
        """Sum of absolute option positions (the SPEC section 3 portfolio limit)."""
        return sum(abs(qty) for iid, qty in self._held() if self._instruments[iid].is_option)

    def state(self) -> AccountState:
        positions = {iid: (qty, self.open_costs[iid]) for iid, qty in self.positions.items()}
        return AccountState(
            self.team_id, self.role, self.cash_ticks, self.fees_ticks,
            self.realised_pnl_ticks, positions,
        )  # fmt: skip

    def _held(self) -> Iterator[tuple[InstrumentId, int]]:
        return ((iid, qty) for iid, qty in self.positions.items() if qty != 0)


class Ledger:
    """Every team's account; books trades and settlements, and checks the invariants."""

    def __init__(
        self,
        instruments: Mapping[InstrumentId, Instrument],
        fees: Mapping[Role, FeeSchedule],
    ) -> None:
        # Kept by reference, not copied: weeklies listed later are seen without a call here.
        self._instruments = instruments
        self._fees = fees
        self._accounts: dict[TeamId, Account] = {}

    def open_account(self, team_id: TeamId, role: Role) -> Account:
        """Open an empty account; raise ValueError if the team already has one."""
        if team_id in self._accounts:
            raise ValueError(f"account already open: {team_id!r}")
        account = Account(team_id, role, self._schedule(role), self._instruments)
        self._accounts[team_id] = account
        return account

    def account(self, team_id: TeamId) -> Account:
        """The team's account; KeyError if none was opened."""
        return self._accounts[team_id]

    def accounts(self) -> list[Account]:
        return list(self._accounts.values())

    def __contains__(self, team_id: object) -> bool:
        return team_id in self._accounts

    def apply(self, trade: Trade) -> tuple[Fill, Fill]:
        """Book both sides of a trade; return the buyer's fill, then the seller's.

        A self-trade books both legs on one account and pays both fees (SPEC section 4).
        Raises KeyError for an unknown team or instrument: trades only come from the books.
        """
        iid = trade.instrument_id
        mult = self._instruments[iid].multiplier
        buyer = self._accounts[trade.buyer]
        seller = self._accounts[trade.seller]
        qty = trade.quantity
        buy_liquidity = liquidity_of(trade, Side.BUY)
        sell_liquidity = liquidity_of(trade, Side.SELL)
        buy_fee = fee_ticks(buyer.fees, buy_liquidity, qty)
        sell_fee = fee_ticks(seller.fees, sell_liquidity, qty)
        buyer.book(iid, qty, trade.price, mult, buy_fee)
        seller.book(iid, -qty, trade.price, mult, sell_fee)
        return (
            Fill(trade.trade_id, trade.buyer, trade.buy_order_id, iid, Side.BUY, trade.price,
                 qty, buy_liquidity, buy_fee, buyer.positions[iid], trade.ts_ns),
            Fill(trade.trade_id, trade.seller, trade.sell_order_id, iid, Side.SELL, trade.price,
                 qty, sell_liquidity, sell_fee, seller.positions[iid], trade.ts_ns),
        )  # fmt: skip

    def settle(
        self, instrument_id: InstrumentId, value_ticks: Ticks, ts_ns: TimeNs
    ) -> list[Settlement]:
        """Cash-settle every open position at `value_ticks` per unit, fee-free; one record each.

        The instrument leaves every account afterwards (position and open cost dropped).
        """
        mult = self._instruments[instrument_id].multiplier
        settlements: list[Settlement] = []
        for account in self._accounts.values():
            qty = account.positions.get(instrument_id, 0)
            if qty != 0:
                realised = account.book(instrument_id, -qty, value_ticks, mult, 0)
                settlements.append(
                    Settlement(account.team_id, instrument_id, qty, value_ticks,
                               qty * value_ticks * mult, realised, ts_ns)
                )  # fmt: skip
            account.positions.pop(instrument_id, None)
            account.open_costs.pop(instrument_id, None)
        return settlements

    def net_positions(self) -> dict[InstrumentId, int]:
        """Each instrument's position summed over all accounts: all zero (SPEC section 7)."""
        net: dict[InstrumentId, int] = {}
        for account in self._accounts.values():
            for iid, qty in account.positions.items():
                net[iid] = net.get(iid, 0) + qty
        return net

    def total_cash(self) -> int:
        return sum(a.cash_ticks for a in self._accounts.values())

    def total_fees(self) -> int:
        """Net fees over all accounts; equals `total_cash()` since premiums cancel."""
        return sum(a.fees_ticks for a in self._accounts.values())

    def snapshot(self) -> list[AccountState]:
        return [a.state() for a in self._accounts.values()]

    def restore(self, states: Iterable[AccountState]) -> None:
        """Reopen accounts from a snapshot (restart); fee schedules come from the role."""
        for state in states:
            account = self.open_account(state.team_id, state.role)
            account.cash_ticks = state.cash_ticks
            account.fees_ticks = state.fees_ticks
            account.realised_pnl_ticks = state.realised_pnl_ticks
            for iid, (qty, cost) in state.positions.items():
                account.positions[iid] = qty
                account.open_costs[iid] = cost

    def copy(self) -> Ledger:
        """A ledger of its own with the same accounts, instruments and fees."""
        other = Ledger(self._instruments, self._fees)
        other.restore(self.snapshot())
        return other

    def _schedule(self, role: Role) -> FeeSchedule:
        # The house never pays fees (SPEC section 3), even if the config omits it.
        return self._fees.get(role, NO_FEES) if role is Role.HOUSE else self._fees[role]
