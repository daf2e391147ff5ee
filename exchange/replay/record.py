"""What a replay keeps of the game as it goes: a running hash of every fill, and counts.

Nothing is held per fill, so a long day costs no memory; the digest covers every fill's
trade id, time, team, instrument, side, price, quantity, liquidity and fee, in order.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence

import msgspec

from exchange.domain.positions import Fill
from exchange.domain.strategy import MarketSignal, News
from exchange.domain.types import Role, TeamId


class Recorder:
    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.trades = 0
        self.volume = 0
        self.fills_by_team: Counter[str] = Counter()
        self.rejections: Counter[str] = Counter()
        self.rejections_by_team: Counter[str] = Counter()
        self.news_count = 0
        self.signals_by_role: Counter[str] = Counter()

    def fills(self, fills: Sequence[Fill], names: Mapping[TeamId, str]) -> None:
        encode = msgspec.json.encode
        for fill in fills:
            name = names.get(fill.team_id, fill.team_id)
            self.fills_by_team[name] += 1
            row = (
                fill.trade_id, fill.ts_ns, name, fill.instrument_id, fill.side.value,
                fill.price, fill.quantity, fill.liquidity.value, fill.fee_ticks,
            )  # fmt: skip
            self.hash.update(encode(row))
        self.trades += len(fills) // 2
        self.volume += sum(f.quantity for f in fills) // 2

    def rejection(self, team_id: TeamId, code: str) -> None:
        self.rejections[code] += 1
        self.rejections_by_team[team_id] += 1

    def news(self, news: News) -> None:
        self.news_count += 1

    def signal(self, role: Role, signal: MarketSignal) -> None:
        self.signals_by_role[role.value] += 1
