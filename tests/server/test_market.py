"""The simulated market inside the server (SPEC sections 3, 6 and 8): news to everyone and
each signal only to its role, a live demo market, the price band around fair value, the
invariants with the house trading, the model's determinism under the game's seed, and
fair values that never show a headline's effect before the headline.

Server tests talk to a real server on 127.0.0.1; the other tests run an `Exchange`
in-process, where every team's account (the house's included) can be read."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from exchange.app import Exchange
from exchange.clock import VirtualClock
from exchange.config import GameConfig, load_config
from exchange.domain.house import LIQUIDITY, OPTIONS, retail_name
from exchange.domain.market.simulator import TickOutcome, fair_values
from exchange.domain.orders import NewOrder, NewQuote
from exchange.domain.pricing import NS_PER_YEAR, black_scholes
from exchange.domain.types import (
    NS_PER_SECOND as NS,
)
from exchange.domain.types import (
    InstrumentId,
    OrderType,
    Phase,
    Role,
    Side,
    TeamId,
    Ticks,
    TimeNs,
)
from exchange.pipeline.simulator import expiry_close
from tests.server.harness import Bot, InProcess, run_server, stream
from tests.support import Message, assert_error, assert_ok

FREQUENT_SIGNALS: dict[str, Any] = {
    "clock": {"speed": 600},
    "market": {
        "model": {
            "news": {"mean_interval_seconds": 300},
            "tracking": {"signal_threshold_pct": 0.01},
            "regimes": {
                "transitions": [[0.5, 0.3, 0.2], [0.3, 0.4, 0.3], [0.2, 0.3, 0.5]],
            },
        }
    },
}
"""The demo with a 5-minute tick every half second, news about once a tick, a regime
change most ticks (so volatility forecasts come within seconds) and a tracking error
signal on nearly every crossing of 0.01%."""

SIGNAL_KINDS = {"hedge_fund": "volatility_forecast", "arbitrage": "tracking_error"}
FORECAST_KEYS = {"current_regime", "predicted_regime", "transition_probabilities"}
TRACKING_KEYS = {"spx", "spy", "theoretical_spy", "error_pct", "direction", "z_score"}
MARKET = OrderType.MARKET


def demo(**overrides: Any) -> GameConfig:
    return load_config(preset="demo", overrides=overrides)


class Collector:
    """Reads one team's stream on its own thread, so no connection falls behind while
    the test waits on another (market data flows fast at a sped-up clock). It reads on
    while the connection closes, so the close handshake is not stuck behind unread data.
    """

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.messages: list[Message] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            try:
                raw = self.ws.recv(timeout=0.2)
            except TimeoutError:
                continue
            except ConnectionClosed:
                return
            with self.lock:
                self.messages.append(json.loads(raw))

    def of_type(self, kind: str) -> list[Message]:
        with self.lock:
            return [m for m in self.messages if m["type"] == kind]

    def first(self, predicate: Callable[[Message], bool], timeout: float = 10) -> Message:
        """The first message read that satisfies `predicate`, waiting up to `timeout`."""

        def found() -> Message | None:
            with self.lock:
                return next((m for m in self.messages if predicate(m)), None)

        return wait_until(found, timeout, "a matching message")  # type: ignore[no-any-return]

    def close(self) -> None:
        self.ws.close()
        self.thread.join(5)
        assert not self.thread.is_alive()


@contextlib.contextmanager
def collecting(bot: Bot) -> Iterator[Collector]:
    """The bot's stream, read on a thread until the block ends."""
    with stream(bot) as ws:
        reader = Collector(ws)
        try:
            yield reader
        finally:
            reader.close()


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `condition` until truthy; fail after `timeout` seconds (a bound, not a claim)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout}s")
        time.sleep(0.05)
    return value


# -- signals by role, news to everyone (SPEC sections 3 and 6) --------------------------


@pytest.fixture(scope="module")
def signalled() -> Iterator[dict[str, list[Message]]]:
    """The streams of one team of each role, on a demo server with frequent news and
    signals, read until each signal kind has reached its role and news everyone."""
    roles = ("hedge_fund", "arbitrage", "market_maker", "retail")
    with run_server(demo(**FREQUENT_SIGNALS)) as base, contextlib.ExitStack() as stack:
        bots = {role: Bot(base, role) for role in roles}
        for bot in bots.values():
            stack.callback(bot.close)
        readers = {role: stack.enter_context(collecting(bot)) for role, bot in bots.items()}

        def delivered() -> bool:
            return all(
                any(s["data"]["kind"] == kind for s in readers[role].of_type("signal"))
                for role, kind in SIGNAL_KINDS.items()
            ) and all(r.of_type("event") for r in readers.values())

        wait_until(delivered, 15, "a signal of each kind and news for everyone")
        # Read on until everyone has had two more headlines, so that anything published
        # along with the signals has reached every stream too.
        seen = {role: len(r.of_type("event")) for role, r in readers.items()}
        wait_until(
            lambda: all(len(r.of_type("event")) >= seen[k] + 2 for k, r in readers.items()),
            10,
            "two more headlines for everyone",
        )
    yield {role: reader.messages for role, reader in readers.items()}


def signals_of(messages: list[Message]) -> list[dict[str, Any]]:
    return [m["data"] for m in messages if m["type"] == "signal"]


@pytest.mark.parametrize("role", ["hedge_fund", "arbitrage"])
def test_each_signal_reaches_only_its_role(signalled: dict[str, list[Message]], role: str) -> None:
    kinds = {s["kind"] for s in signals_of(signalled[role])}
    assert kinds == {SIGNAL_KINDS[role]}


def test_market_maker_and_retail_receive_no_signal(signalled: dict[str, list[Message]]) -> None:
    assert signals_of(signalled["market_maker"]) == []
    assert signals_of(signalled["retail"]) == []


def test_volatility_forecast_carries_regimes_and_probabilities_not_the_truth(
    signalled: dict[str, list[Message]],
) -> None:
    for signal in signals_of(signalled["hedge_fund"]):
        details = signal["details"]
        assert set(details) == FORECAST_KEYS, details
        assert {details["current_regime"], details["predicted_regime"]} <= {
            "low", "medium", "high"
        }  # fmt: skip
        probabilities = details["transition_probabilities"]
        assert set(probabilities) == {"low", "medium", "high"}
        assert sum(probabilities.values()) == pytest.approx(1.0)


def test_tracking_error_signal_carries_prices_error_direction_and_z_score(
    signalled: dict[str, list[Message]],
) -> None:
    for signal in signals_of(signalled["arbitrage"]):
        details = signal["details"]
        assert set(details) == TRACKING_KEYS, details
        assert details["direction"] in {"up", "down"}
        assert abs(details["error_pct"]) > 0.01
        assert details["spx"] / 10 == pytest.approx(details["theoretical_spy"], abs=0.01)
        expected = (details["spy"] / details["theoretical_spy"] - 1) * 100
        assert details["error_pct"] == pytest.approx(expected, abs=0.01)


def test_everyone_sees_the_same_headlines_and_never_their_effect(
    signalled: dict[str, list[Message]],
) -> None:
    headlines = {
        role: [(m["data"]["headline"], m["data"]["game_time"])
               for m in messages if m["type"] == "event"]
        for role, messages in signalled.items()
    }  # fmt: skip
    # The teams connected one after another, with news every half second: compare from
    # the first headline the last one to connect heard, to the end of the shortest list.
    start = max(h[0][1] for h in headlines.values())
    heard = {role: [e for e in h if e[1] >= start] for role, h in headlines.items()}
    shortest = min(len(h) for h in heard.values())
    assert shortest >= 2
    first = next(iter(heard.values()))[:shortest]
    assert all(h[:shortest] == first for h in heard.values()), heard
    for messages in signalled.values():
        for event in (m for m in messages if m["type"] == "event"):
            assert set(event["data"]) == {"headline", "game_time"}
            assert event["data"]["headline"]


def test_news_and_signals_are_stream_messages_in_sequence(
    signalled: dict[str, list[Message]],
) -> None:
    for messages in signalled.values():
        stream_seqs = [m["seq"] for m in messages if m["type"] in {"event", "signal"}]
        assert stream_seqs == sorted(stream_seqs)
        assert len(set(stream_seqs)) == len(stream_seqs)


# -- the demo preset: a live market at once ---------------------------------------------


@pytest.fixture(scope="module")
def demo_server() -> Iterator[str]:
    with run_server(demo()) as base:
        yield base


@pytest.fixture
def demo_bot(demo_server: str) -> Iterator[Bot]:
    bot = Bot(demo_server, "hedge_fund")
    yield bot
    bot.http.delete("/orders")
    bot.close()


def prices(http: httpx.Client) -> dict[str, Any]:
    return assert_ok(http.get("/market/prices"))  # type: ignore[no-any-return]


def is_option(instrument_id: str) -> bool:
    return "_CALL_" in instrument_id or "_PUT_" in instrument_id


def test_demo_underlyings_move_from_the_start(demo_server: str) -> None:
    with httpx.Client(base_url=demo_server, timeout=10) as http:
        first = wait_until(
            lambda: (u := prices(http)["underlyings"])["SPX"] and u["SPY"] and u,
            5,
            "SPX and SPY prices",
        )
        assert 3000 < first["SPX"] < 6000
        assert first["SPY"] == pytest.approx(first["SPX"] / 10, rel=0.02)
        wait_until(lambda: prices(http)["underlyings"] != first, 5, "SPX or SPY to move")


def test_demo_option_books_are_mostly_two_sided(demo_server: str) -> None:
    def two_sided() -> list[dict[str, Any]] | None:
        lines = [i for i in prices(http)["instruments"] if is_option(i["instrument_id"])]
        quoted = [i for i in lines if i["bid"] is not None and i["ask"] is not None]
        return quoted if len(quoted) * 2 > len(lines) else None

    with httpx.Client(base_url=demo_server, timeout=10) as http:
        quoted = wait_until(two_sided, 15, "most option books two-sided")
    assert all(0 < i["bid"] < i["ask"] for i in quoted)


def test_demo_market_data_carries_fair_value_and_greeks(demo_bot: Bot) -> None:
    def priced_option(m: Message) -> bool:
        d = m["data"]
        return m["type"] == "market_data" and is_option(d["instrument_id"]) and "delta" in d

    def priced_underlying(m: Message) -> bool:
        d = m["data"]
        return (
            m["type"] == "market_data"
            and d["instrument_id"] in {"SPX", "SPY"}
            and (d.get("fair_value") is not None)
        )

    with collecting(demo_bot) as reader:
        option = reader.first(priced_option)["data"]
        underlying = reader.first(priced_underlying)["data"]
    assert option["fair_value"] >= 0
    assert option["underlying_price"] > 0
    if "_CALL_" in option["instrument_id"]:
        assert 0 <= option["delta"] <= 1
    else:
        assert -1 <= option["delta"] <= 0
    assert option["gamma"] >= 0 and option["vega"] >= 0
    assert underlying["fair_value"] == pytest.approx(underlying["underlying_price"], abs=0.01)


def test_demo_two_sided_options_carry_the_implied_vol_of_their_mid(demo_bot: Bot) -> None:
    """Solved for every option of a publish at once: each message's implied vol, put back
    into Black-Scholes with that message's own underlying price, strike and time to
    expiry, gives back that message's mid (an option given another's vol would not)."""

    def two_sided_option(m: Message) -> bool:
        d = m["data"]
        return (
            m["type"] == "market_data" and is_option(d["instrument_id"]) and "delta" in d
            and d.get("bid") is not None and d.get("ask") is not None
        )  # fmt: skip

    with collecting(demo_bot) as reader:

        def enough() -> list[dict[str, Any]] | None:
            with reader.lock:
                found = [m["data"] for m in reader.messages if two_sided_option(m)]
            return found if len(found) >= 20 else None

        options = wait_until(enough, 15, "market data of 20 two-sided options")
        now = iso_ns(assert_ok(demo_bot.http.get("/health"))["game_time"])
    vols = [o["implied_vol"] for o in options if o.get("implied_vol") is not None]
    assert len(vols) * 2 > len(options)  # a mid outside no-arbitrage bounds has none
    assert all(1e-4 <= v <= 5.0 for v in vols)
    listed = {i["instrument_id"]: i for i in assert_ok(demo_bot.http.get("/instruments"))}
    schedule = demo().schedule
    close = expiry_close(ZoneInfo(schedule.timezone), schedule.close)
    for option in (o for o in options if o.get("implied_vol") is not None):
        info = listed[option["instrument_id"]]
        years = (close(dt.date.fromisoformat(info["expiry"])) - now) / NS_PER_YEAR
        value = float(black_scholes(
            option["underlying_price"], info["strike"], years, option["implied_vol"],
            info["kind"] == "CALL",
        ).value)  # fmt: skip
        mid = (option["bid"] + option["ask"]) / 2
        assert value == pytest.approx(mid, abs=0.05 + 0.002 * mid), option


def iso_ns(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).timestamp() * NS)


def test_demo_retail_orders_trade(demo_server: str) -> None:
    """The house options maker never crosses its own quotes, so a print in an option
    is retail flow trading (no bot has sent an order yet)."""

    def traded() -> list[dict[str, Any]]:
        lines = prices(http)["instruments"]
        return [i for i in lines if is_option(i["instrument_id"]) and i["last"] is not None]

    with httpx.Client(base_url=demo_server, timeout=10) as http:
        wait_until(traded, 40, "a retail trade in some option")


# -- reference prices: the price band around fair value (SPEC section 5) ----------------


def continuous(bot: Bot) -> None:
    """Wait for continuous trading, so no order lands in the opening auction (when
    nothing may be submitted)."""
    wait_until(
        lambda: assert_ok(bot.http.get("/health"))["phase"] == "CONTINUOUS", 15, "continuous"
    )


def fair_option(bot: Bot, at_least: float = 5.0) -> tuple[str, float]:
    """An option and its fair value, from the first market data that prices one at
    `at_least` or more (so the 50% band is wider than the 0.50 floor)."""

    def priced(m: Message) -> bool:
        d = m["data"]
        return (
            m["type"] == "market_data"
            and is_option(d["instrument_id"])
            and (d.get("fair_value") or 0) >= at_least
        )

    with collecting(bot) as reader:
        data = reader.first(priced)["data"]
    return data["instrument_id"], data["fair_value"]


@pytest.mark.parametrize(("side", "factor"), [("buy", 3.0), ("sell", 0.2)])
def test_limit_price_far_from_fair_value_is_out_of_range(
    demo_bot: Bot, side: str, factor: float
) -> None:
    continuous(demo_bot)
    instrument, fair = fair_option(demo_bot)
    price = round(fair * factor, 2)
    error = assert_error(demo_bot.order(instrument, side, 1, price), 422, "PRICE_OUT_OF_RANGE")
    details = error["details"]
    assert details["reference"] == pytest.approx(fair, rel=0.2)
    assert not details["low"] <= price <= details["high"]
    assert demo_bot.http.get("/orders").json()["data"] == []


def test_limit_price_near_fair_value_is_accepted(demo_bot: Bot) -> None:
    continuous(demo_bot)
    instrument, fair = fair_option(demo_bot)
    reply = demo_bot.order(instrument, "buy", 1, round(fair * 0.95, 2))
    assert reply.status_code == 201, reply.text
    assert reply.json()["order_id"]


# -- invariants with the house and bots trading (SPEC section 7) ------------------------


class TradingBots:
    """A market maker quoting, a hedge fund taking options and an arbitrage desk trading
    both underlyings, each through the pipeline exactly as the API sends orders."""

    def __init__(self, ex: Exchange, teams: dict[Role, TeamId], seed: int = 7) -> None:
        assert ex.market is not None
        self.market = ex.market
        self.rng = np.random.default_rng(seed)
        self.running = True
        self.bots = {role: InProcess(team, ex.orders) for role, team in teams.items()}
        self.sent = 0

    def liquid_options(self) -> list[tuple[InstrumentId, int]]:
        assert self.market is not None
        fair = self.market.cache.fair_values
        return sorted((InstrumentId(i), v) for i, v in fair.items() if v >= 200)

    async def send(self, role: Role, request: NewOrder | NewQuote) -> None:
        await self.bots[role].send(request)
        self.sent += 1

    async def market_maker(self) -> None:
        me = self.bots[Role.MARKET_MAKER].team_id
        while self.running:
            options = self.liquid_options()
            if options:
                instrument, fair = options[int(self.rng.integers(len(options)))]
                half = max(1, fair * 3 // 100)
                quote = NewQuote(me, instrument, Ticks(fair - half), 10, Ticks(fair + half), 10)
                await self.send(Role.MARKET_MAKER, quote)
            await asyncio.sleep(0.2)

    async def hedge_fund(self) -> None:
        me = self.bots[Role.HEDGE_FUND].team_id
        while self.running:
            options = self.liquid_options()
            if options:
                instrument, _ = options[int(self.rng.integers(len(options)))]
                side = Side.BUY if self.rng.random() < 0.5 else Side.SELL
                await self.send(
                    Role.HEDGE_FUND, NewOrder(me, instrument, side, 2, order_type=MARKET)
                )
            await asyncio.sleep(0.25)

    async def arbitrage(self) -> None:
        me = self.bots[Role.ARBITRAGE].team_id
        k = 0
        while self.running:
            side = Side.BUY if k % 4 < 2 else Side.SELL
            symbol = InstrumentId("SPY" if k % 2 else "SPX")
            await self.send(Role.ARBITRAGE, NewOrder(me, symbol, side, 1, order_type=MARKET))
            k += 1
            await asyncio.sleep(0.3)


def invariant_breaches(ex: Exchange) -> list[str]:
    """What breaks SPEC section 7's invariants now: positions that do not sum to zero
    over all teams (house included), or cash that is not the sum of the fees."""
    ledger = ex.session.ledger
    breaches = [f"{i} nets to {q}" for i, q in ledger.net_positions().items() if q != 0]
    if ledger.total_cash() != ledger.total_fees():
        breaches.append(f"cash {ledger.total_cash()} != fees {ledger.total_fees()}")
    return breaches


async def wait_async(condition: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout}s")
        await asyncio.sleep(0.05)


async def test_positions_net_to_zero_and_cash_to_fees_with_house_and_bots_trading() -> None:
    ex = Exchange(demo(clock={"speed": 600}))
    await ex.start()
    tasks: list[asyncio.Task[None]] = []
    bots: TradingBots | None = None
    try:
        roles = (Role.MARKET_MAKER, Role.HEDGE_FUND, Role.ARBITRAGE)
        teams = {role: (await ex.register(f"bot {role.value}", role))[0].team_id
                 for role in roles}  # fmt: skip
        await wait_async(lambda: ex.venue.phase is Phase.CONTINUOUS, 5, "continuous trading")
        bots = TradingBots(ex, teams)
        tasks = [asyncio.create_task(run()) for run in (bots.market_maker, bots.hedge_fund,
                                                         bots.arbitrage)]  # fmt: skip
        crowd = ex.config.market.model.retail.traders
        names = {LIQUIDITY, OPTIONS} | {retail_name(n) for n in range(1, crowd + 1)}
        house = {t.name: t.team_id for t in ex.teams.by_id.values() if t.name in names}
        assert set(house) == names
        ledger = ex.session.ledger

        def holds(team: TeamId) -> bool:
            return any(ledger.account(team).positions.values())

        breaches: list[str] = []

        def traded() -> bool:
            breaches.extend(invariant_breaches(ex))  # checked all along, not only at the end
            bot_teams, houses = teams.values(), (house[LIQUIDITY], house[OPTIONS])
            return all(holds(t) for t in (*bot_teams, *houses))

        await wait_async(traded, 15, "every bot and the house to hold positions")
        assert breaches == []
    finally:
        if bots is not None:
            bots.running = False
        if tasks:
            await asyncio.wait_for(asyncio.gather(*tasks), 5)
        await ex.stop()
    assert invariant_breaches(ex) == []
    assert bots is not None and bots.sent > 0
    assert sum(ex.supervisor.restarts.values()) == 0, ex.supervisor.restarts


# -- determinism under the game's seed (SPEC section 6) ---------------------------------


def ticks_of(config: GameConfig, n: int) -> list[tuple[Any, ...]]:
    """The first `n` ticks of a fresh exchange's market model, advanced directly.

    The exchange gets a virtual clock at the configured start, as a replay does: a live
    clock would have moved on by a few microseconds between two constructions, and the
    news process counts its arrivals from the moment the model is built."""
    assert config.clock.start is not None
    start = int(config.clock.start.timestamp()) * NS
    ex = Exchange(config, clock=VirtualClock(TimeNs(start)))
    assert ex.market is not None
    tick_ns = config.market.model.tick_seconds * NS
    return [
        fingerprint(ex.market.model.advance(start + k * tick_ns, ex.market.streams))
        for k in range(1, n + 1)
    ]


def fingerprint(o: TickOutcome) -> tuple[Any, ...]:
    """A tick's outcome as comparable values (its price paths as bytes)."""
    return (o.tick, o.ts_ns, o.spx_path.tobytes(), o.spy_path.tobytes(), o.regime, o.vol,
            o.regime_changes, o.news, o.volatility_forecasts, o.tracking.epsilon,
            o.tracking_error)  # fmt: skip


def test_same_seed_gives_the_same_ticks_and_another_seed_differs() -> None:
    config = demo(**FREQUENT_SIGNALS)
    first, again = ticks_of(config, 40), ticks_of(config, 40)
    assert first == again
    assert any(t[7] for t in first), "no news in 40 ticks: the comparison would be weak"
    assert any(t[8] for t in first), "no forecast in 40 ticks"
    assert any(t[10] is not None for t in first), "no tracking signal in 40 ticks"
    other = ticks_of(load_config(preset="demo", overrides={**FREQUENT_SIGNALS, "seed": 2}), 40)
    assert [t[2] for t in other] != [t[2] for t in first]
    assert [t[7] for t in other] != [t[7] for t in first]


# -- fair values follow the news, never lead it (SPEC section 6) ------------------------


def test_a_headlines_regime_shift_reaches_fair_values_only_at_the_headline() -> None:
    """The simulator computes a tick at its start; a regime shift forced by a headline
    later in the tick must not show in the fair values (public in market data) before
    the headline is published."""
    config = demo(**FREQUENT_SIGNALS)
    assert config.clock.start is not None
    clock = VirtualClock(TimeNs(int(config.clock.start.timestamp()) * NS))
    ex = Exchange(config, clock=clock)
    market, tick_ns = ex.market, config.market.model.tick_seconds * NS
    assert market is not None
    for _ in range(200):
        start = clock.now()
        outcome = market.model.advance(start + tick_ns, market.streams)
        shifts = [c for c in outcome.regime_changes if c.cause == "news" and c.ts_ns > start]
        if shifts:
            break
        clock.advance(tick_ns)
    else:
        pytest.fail("no headline shifted the regime within a tick in 200 ticks")
    market.prices.put_nowait((outcome, start))
    vol = config.market.model.regimes.vol
    options = [i for i in ex.venue.instruments.values() if i.is_option]
    for now, regime in ((start, shifts[0].previous), (shifts[0].ts_ns, shifts[0].regime)):
        clock.advance_to(now)
        ex.market_data.reprice()
        spots = ex.market_data.spots
        expected = fair_values(options, spots, vol(regime), now, market.expiry_ns)
        assert market.cache.fair_values == expected, f"at {now - start} ns into the tick"


def test_prices_give_each_options_fair_value_and_none_without_a_market(
    demo_server: str,
) -> None:
    with httpx.Client(base_url=demo_server, timeout=10) as http:

        def priced() -> list[dict[str, Any]] | None:
            lines: list[dict[str, Any]] = prices(http)["instruments"]
            return lines if all(line["fair_value"] is not None for line in lines) else None

        lines = wait_until(priced, 5, "a fair value for every book")
        spx = next(line for line in lines if line["instrument_id"] == "SPX")
        assert spx["fair_value"] == pytest.approx(prices(http)["underlyings"]["SPX"], rel=0.01)
    with run_server() as base, httpx.Client(base_url=base, timeout=10) as http:
        assert all(line["fair_value"] is None for line in prices(http)["instruments"])
