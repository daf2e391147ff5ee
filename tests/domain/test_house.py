"""The house's strategies on hand-built snapshots: the options maker's quotes and the
retail traders' sizing, pacing, pricing and order lifetime."""

from __future__ import annotations

import msgspec
import numpy as np

from exchange.domain.house import (
    HouseOptionsMaker,
    RetailTrader,
    house_teams,
    retail_name,
    two_sided,
)
from exchange.domain.market.retail import RetailConfig
from exchange.domain.orders import CancelAll, NewOrder, NewQuote
from exchange.domain.strategy import Action, Rejection
from exchange.domain.types import (
    NS_PER_SECOND as NS,
)
from exchange.domain.types import (
    InstrumentId,
    OrderType,
    Phase,
    Role,
    Side,
    Ticks,
    TimeNs,
)
from tests.bots.support import BY_ID, CHAIN, NOW, TEAM, fill, market

TICK = 300 * NS


def maker() -> HouseOptionsMaker:
    m = HouseOptionsMaker()
    m.on_start(TEAM, Role.HOUSE, CHAIN)
    return m


def quotes(actions: object) -> dict[InstrumentId, NewQuote]:
    assert isinstance(actions, list | tuple)
    return {a.instrument_id: a for a in actions if isinstance(a, NewQuote)}


def test_the_options_maker_quotes_every_option_two_sided_and_no_underlying() -> None:
    snapshot = market()
    quoted = quotes(maker().on_market(snapshot))
    options = {i for i in snapshot.fair if BY_ID[i].is_option}
    assert set(quoted) == options
    for q in quoted.values():
        assert 1 <= q.bid_price < q.ask_price and q.bid_quantity == q.ask_quantity == 10


def test_the_cheapest_option_is_bid_at_the_minimum_tick() -> None:
    quote = two_sided(TEAM, InstrumentId("X"), 0, 5, 10)
    assert (quote.bid_price, quote.ask_price) == (1, 5)
    assert two_sided(TEAM, InstrumentId("X"), 1, 1, 10).ask_price == 2


def test_the_quote_widens_with_the_regime_s_volatility() -> None:
    calm, wild = maker(), maker()
    snapshot = market()
    calm_quotes = quotes(calm.on_market(msgspec.structs.replace(snapshot, vol=0.10)))
    wild_quotes = quotes(wild.on_market(msgspec.structs.replace(snapshot, vol=0.50)))
    option = max(calm_quotes, key=lambda i: snapshot.fair[i])  # wide enough to scale
    width = {n: q[option].ask_price - q[option].bid_price
             for n, q in (("calm", calm_quotes), ("wild", wild_quotes))}  # fmt: skip
    assert width["wild"] > 4 * width["calm"]


def test_a_fill_is_requoted_at_once_and_skewed_against_the_inventory() -> None:
    m = maker()
    snapshot = market()
    first = quotes(m.on_market(snapshot))
    option = max(first, key=lambda i: snapshot.fair[i])
    again = m.on_fill(fill(option, Side.SELL, 10, position_after=-50))
    assert len(again) == 1 and isinstance(again[0], NewQuote)
    before, after = first[option], again[0]
    assert after.bid_price > before.bid_price and after.ask_price > before.ask_price  # short


def test_an_unchanged_market_is_not_requoted_and_a_moved_one_is() -> None:
    m = maker()
    m.on_market(market())
    assert quotes(m.on_market(market())) == {}
    assert quotes(m.on_market(market(spx=4480.0)))  # fair values moved a long way


def test_a_refused_quote_is_sent_again_though_nothing_moved() -> None:
    m = maker()
    first = quotes(m.on_market(market()))
    option = next(iter(first))
    assert m.on_reject(Rejection(NOW, first[option], "RISK_LIMIT", "refused")) == ()
    assert quotes(m.on_market(market())) == {option: first[option]}  # only that one


def test_a_fill_between_snapshots_is_quoted_once_then_left_alone() -> None:
    m = maker()
    snapshot = market()
    option = max(quotes(m.on_market(snapshot)), key=lambda i: snapshot.fair[i])
    again = m.on_fill(fill(option, Side.SELL, 10, position_after=-50))
    assert isinstance(again[0], NewQuote)
    assert quotes(m.on_market(snapshot)) == {}  # already quoted at these inputs
    back = m.on_fill(fill(option, Side.BUY, 50, position_after=0))
    assert isinstance(back[0], NewQuote) and back[0].bid_price < again[0].bid_price
    assert quotes(m.on_market(snapshot)) == {}


def test_out_of_continuous_trading_the_maker_rests_then_quotes_afresh() -> None:
    m = maker()
    assert m.on_market(market()) and m.on_market(market(phase=Phase.CLOSED)) == ()
    assert quotes(m.on_market(market()))  # the close cancelled its quotes: all sent again


# -- the retail crowd -------------------------------------------------------------------


def trader(seed: int = 1, **config: object) -> RetailTrader:
    settings = msgspec.structs.replace(RetailConfig(), traders=1, **config)
    t = RetailTrader(np.random.default_rng(seed), settings)
    t.on_start(TEAM, Role.RETAIL, CHAIN)
    return t


def run(t: RetailTrader, ticks: int, step: int = 5 * NS, **snapshot: object) -> list[Action]:
    """Every step of `ticks` ticks from NOW; all actions in order."""
    out: list[Action] = []
    for k in range(ticks * TICK // step):
        out += t.on_market(market(now=NOW + k * step, **snapshot))  # type: ignore[arg-type]
    return out


def orders(actions: list[Action]) -> list[NewOrder]:
    return [a for a in actions if isinstance(a, NewOrder)]


def test_a_trader_sends_at_most_one_order_per_gap() -> None:
    t = trader(orders_per_tick=30.0, limit_lifetime_ticks=0)
    sent_at: list[int] = []
    for k in range(2 * TICK // NS):
        now = NOW + k * NS
        if orders(list(t.on_market(market(now=now)))):
            sent_at.append(now)
    assert len(sent_at) > 20 and min(np.diff(sent_at)) >= NS


def test_the_crowd_splits_the_flow_and_each_trader_has_its_own_generator() -> None:
    teams = house_teams(np.random.default_rng(3), RetailConfig(), 300)
    crowd = [t for t in teams if t.role is Role.RETAIL]
    assert (
        [t.name for t in crowd[:2]]
        == [retail_name(1), retail_name(2)]
        == ["Retail 01", "Retail 02"]
    )
    assert len(crowd) == 50
    rates = {t.strategy.rate for t in crowd if isinstance(t.strategy, RetailTrader)}
    assert rates == {3.0 / 50}
    rngs = [t.strategy.rng for t in crowd if isinstance(t.strategy, RetailTrader)]
    assert len({float(r.random()) for r in rngs}) == 50


def test_positions_never_pass_the_limits_at_their_worst() -> None:
    """Every order filled in full as soon as it is sent: the trader's positions stay
    within 50 per option and 50 over the options, though it draws far more than that."""
    t = trader(orders_per_tick=20.0, mean_size=20.0)
    positions: dict[InstrumentId, int] = {}
    step = 5 * NS
    for k in range(6 * TICK // step):
        for order in orders(list(t.on_market(market(now=NOW + k * step)))):
            moved = positions.get(order.instrument_id, 0) + order.side.sign * order.quantity
            positions[order.instrument_id] = moved
            t.on_fill(fill(order.instrument_id, order.side, order.quantity, moved))
            assert abs(moved) <= 50 and sum(abs(p) for p in positions.values()) <= 50
    assert t.drawn > 100 and positions


def test_a_resting_limit_order_is_cancelled_when_its_lifetime_ends() -> None:
    t = trader(orders_per_tick=6.0, market_share=0.0, limit_lifetime_ticks=1)
    actions = run(t, 4)
    sent = [a for a in actions if isinstance(a, NewOrder)]
    cancels = [a for a in actions if isinstance(a, CancelAll)]
    assert sent and cancels
    assert {c.instrument_id for c in cancels} <= {o.instrument_id for o in sent}
    assert all(c.team_id == TEAM for c in cancels)


def test_a_filled_order_is_not_cancelled() -> None:
    t = trader(orders_per_tick=6.0, market_share=0.0, limit_lifetime_ticks=1)
    step, cancelled = 5 * NS, []
    for k in range(3 * TICK // step):
        for a in t.on_market(market(now=NOW + k * step)):
            if isinstance(a, NewOrder):
                t.on_fill(fill(a.instrument_id, a.side, a.quantity, a.side.sign * a.quantity))
            elif isinstance(a, CancelAll):
                cancelled.append(a)
    assert cancelled == []


def test_limit_prices_are_set_from_the_fair_value_at_the_moment_of_sending() -> None:
    """The same draws against two markets whose fair values differ by a tenth: the
    prices follow the market they were sent in."""
    base = market()
    richer = {i: Ticks(v * 11 // 10) for i, v in base.fair.items()}
    sent = {}
    for name, fair in (("base", base.fair), ("richer", richer)):
        t = trader(7, orders_per_tick=10.0, market_share=0.0, limit_lifetime_ticks=0)
        sent[name] = [
            o for k in range(2 * TICK // (5 * NS))
            for o in orders(list(t.on_market(msgspec.structs.replace(
                base, fair=fair, tops={}, now_ns=TimeNs(NOW + k * 5 * NS)))))
        ]  # fmt: skip
    pairs = list(zip(sent["base"], sent["richer"], strict=True))
    assert pairs and all(a.instrument_id == b.instrument_id for a, b in pairs)
    assert all(
        a.price is not None and b.price is not None and b.price > a.price
        for a, b in pairs
        if richer[a.instrument_id] > base.fair[a.instrument_id] + 20
    )
    assert any(richer[a.instrument_id] > base.fair[a.instrument_id] + 20 for a, _ in pairs)


def test_a_passive_order_never_crosses_the_book() -> None:
    config = msgspec.structs.replace(RetailConfig(), traders=1, market_share=0.0)
    passive = tuple(s for s in config.limit_styles if not s.crosses)
    t = trader(3, market_share=0.0, limit_styles=tuple(
        msgspec.structs.replace(s, share=s.share / sum(p.share for p in passive))
        for s in passive
    ))  # fmt: skip
    snapshot = market(half_spread_pct=0.1)  # a tight book, inside the passive band
    for k in range(2 * TICK // (5 * NS)):
        now = TimeNs(NOW + k * 5 * NS)
        for o in orders(list(t.on_market(msgspec.structs.replace(snapshot, now_ns=now)))):
            top = snapshot.tops[o.instrument_id]
            assert o.price is not None
            if o.side is Side.BUY and top.ask is not None and top.ask > 1:
                assert o.price < top.ask
            if o.side is Side.SELL and top.bid is not None:
                assert o.price > top.bid


def test_a_refused_limit_order_is_forgotten_and_the_close_clears_all() -> None:
    t = trader(orders_per_tick=6.0, market_share=0.0, limit_lifetime_ticks=2)
    sent = orders(run(t, 1))
    assert sent and t.working
    t.on_reject(Rejection(NOW, sent[-1], "PRICE_OUT_OF_RANGE", "x"))
    assert sent[-1].instrument_id not in t.working
    assert t.on_market(market(phase=Phase.CLOSED)) == () and t.working == {}


def test_market_orders_are_sent_as_market_orders_and_counted_as_drawn() -> None:
    t = trader(orders_per_tick=6.0, market_share=1.0)
    sent = orders(run(t, 3))
    assert sent and all(o.order_type is OrderType.MARKET and o.price is None for o in sent)
    assert t.drawn >= len(sent)


def test_orders_are_only_for_the_trader_s_own_team() -> None:
    assert all(a.team_id == TEAM for a in run(trader(orders_per_tick=6.0), 2))
