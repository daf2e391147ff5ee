"""Where an auction would clear: the uniform price that trades the most (SPEC section 4).

At any price p, buyers will take D(p) = the quantity bid at p or higher and sellers will
give S(p) = the quantity offered at p or lower; min(D, S) can trade. Volume only changes
at limit prices, so the best price is always one of them and one pass over the levels
finds it. Ties between prices that clear the same volume go to the smallest imbalance
|D - S|, then to the price nearest the reference price, then to the lower price (so the
rule is total and the outcome never depends on iteration order).

The book publishes it as the indicative price while orders gather, and the auction
(`auction.py`) clears at it: both read it from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from exchange.domain.types import Ticks


class Uncross(NamedTuple):
    """Where an auction clears: price, executable volume, and demand minus supply there."""

    price: Ticks
    volume: int
    imbalance: int


def clearing_price(
    bids: Sequence[tuple[int, int]],
    asks: Sequence[tuple[int, int]],
    reference: int | None = None,
) -> Uncross | None:
    """The uniform price maximising volume, or None if nothing crosses.

    `bids` are (price, quantity) levels best (highest) first, `asks` best (lowest) first.
    """
    if not bids or not asks or bids[0][0] < asks[0][0]:
        return None
    prices = sorted({p for p, _ in bids} | {p for p, _ in asks})
    demand = _cumulative_demand(bids, prices)
    supply = _cumulative_supply(asks, prices)
    best: tuple[int, int, int, int] | None = None
    best_uncross: Uncross | None = None
    for price, d, s in zip(prices, demand, supply, strict=True):
        volume = min(d, s)
        if volume == 0:
            continue
        distance = abs(price - reference) if reference is not None else 0
        key = (-volume, abs(d - s), distance, price)
        if best is None or key < best:
            best, best_uncross = key, Uncross(Ticks(price), volume, d - s)
    return best_uncross


def _cumulative_demand(bids: Sequence[tuple[int, int]], prices: list[int]) -> list[int]:
    """D(p) for each p in ascending `prices`: quantity bid at p or higher."""
    out = [0] * len(prices)
    i, total = 0, 0
    for k in range(len(prices) - 1, -1, -1):
        while i < len(bids) and bids[i][0] >= prices[k]:
            total += bids[i][1]
            i += 1
        out[k] = total
    return out


def _cumulative_supply(asks: Sequence[tuple[int, int]], prices: list[int]) -> list[int]:
    """S(p) for each p in ascending `prices`: quantity offered at p or lower."""
    out = [0] * len(prices)
    i, total = 0, 0
    for k, price in enumerate(prices):
        while i < len(asks) and asks[i][0] <= price:
            total += asks[i][1]
            i += 1
        out[k] = total
    return out
