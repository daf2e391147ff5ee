"""The replay engine on small hand-written scenarios: scripts, swaps, expectations."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import msgspec
import pytest

from exchange.domain.types import NS_PER_SECOND, InstrumentId, TimeNs
from exchange.replay.cli import write_digest
from exchange.replay.engine import Replay
from exchange.replay.report import build_report
from exchange.replay.scenario import Scenario, load_scenario, moment, seconds
from exchange.replay.strategies import build_strategy, parse_swap

START = "2026-12-01T09:20:00-06:00"  # a Tuesday: continuous trading from 09:30


def scenario(**fields: Any) -> Scenario:
    base: dict[str, Any] = {"name": "t", "seed": 4, "start": START, "duration": "30m",
                            "config": {"market": {"house_options_maker": True}}}  # fmt: skip
    return msgspec.convert(base | fields, Scenario)


SCRIPTED = [
    {"team": "Buyer", "role": "hedge_fund"},
    {"team": "Seller", "role": "hedge_fund"},
]


def test_scripted_orders_meet_at_their_times_and_the_ledger_balances() -> None:
    script = [
        {"at": "09:31:00", "team": "Seller", "instrument": "SPX", "side": "sell",
         "quantity": 7, "price": 4300.0},
        {"at": "09:32:00", "team": "Buyer", "instrument": "SPX", "side": "buy",
         "quantity": 7, "price": 4500.0},
    ]  # fmt: skip
    config = {"market": {"house_liquidity": False, "retail": False}}
    replay = Replay(scenario(participants=SCRIPTED, script=script, config=config)).run()
    report = build_report(replay)
    buyer = replay.session.ledger.account(replay.ids["Buyer"])
    assert buyer.positions[InstrumentId("SPX")] == 7 and report.trades == 1
    assert report.invariants == [] and report.failures == []


def test_a_scripted_order_in_the_auction_call_is_refused_with_the_phase_code() -> None:
    script = [{"at": "09:29:45", "team": "Buyer", "instrument": "SPX", "side": "buy",
               "quantity": 1, "price": 4400.0}]  # fmt: skip
    report = build_report(Replay(scenario(participants=SCRIPTED, script=script)).run())
    buyer = next(t for t in report.teams if t.name == "Buyer")
    assert report.rejections["MARKET_CLOSED"] == 1 and buyer.rejections == 1


def test_the_same_scenario_gives_the_same_digest_and_another_seed_another() -> None:
    one = build_report(Replay(scenario(duration="2h")).run())
    two = build_report(Replay(scenario(duration="2h")).run())
    other = build_report(Replay(scenario(duration="2h", seed=5)).run())
    assert one.digest == two.digest != other.digest
    assert one.trades > 0  # the house and retail trade on their own


def test_a_swap_replaces_one_bot_and_leaves_the_market_as_it_was() -> None:
    parts = [{"team": "Maker", "role": "market_maker",
              "strategy": "bots.market_maker:MarketMaker"}]  # fmt: skip
    plain = Replay(scenario(participants=parts, duration="2h")).run()
    swap: dict[str, tuple[str, dict[str, Any]]] = {
        "Maker": ("exchange.domain.strategy:Strategy", {})
    }
    idle = Replay(scenario(participants=parts, duration="2h"), swap).run()
    assert plain.recorder.fills_by_team["Maker"] > 0
    assert idle.recorder.fills_by_team["Maker"] == 0
    assert plain.market.model.spx == idle.market.model.spx  # the same day's prices


def test_a_swap_for_a_team_not_in_the_game_is_an_error() -> None:
    with pytest.raises(ValueError, match="no such team"):
        Replay(scenario(), {"Nobody": ("exchange.domain.strategy:Strategy", {})})


def test_expectations_that_miss_are_reported() -> None:
    expect = {"min_trades": 10**6, "digest": "0" * 64, "teams": {"Ghost": {"min_pnl": 0}}}
    failures = build_report(Replay(scenario(expect=expect)).run()).failures
    assert any("trades" in f for f in failures)
    assert any("digest" in f for f in failures)
    assert any("Ghost" in f for f in failures)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"duration": "soon"}, "not a duration"),
        ({"step_seconds": 0}, "step_seconds"),
        ({"script": [{"at": "10:00", "team": "X", "instrument": "SPX"}]}, "not among"),
        ({"participants": SCRIPTED + SCRIPTED[:1]}, "unique"),
    ],
)
def test_a_bad_scenario_is_refused_with_what_is_wrong(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises((ValueError, msgspec.ValidationError), match=message):
        scenario(**fields)


def test_a_bad_file_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nduration: [1, 2]\n")
    with pytest.raises(ValueError, match=r"bad\.yaml"):
        load_scenario(path)


def test_times_read_as_offsets_times_of_day_or_iso() -> None:
    start = dt.datetime.fromisoformat(START)
    assert moment("+1h30m", start) == start + dt.timedelta(minutes=90)
    assert moment("10:00", start).hour == 10
    assert moment("2026-12-02T10:00:00-06:00", start).day == 2
    assert seconds("2h") == 7200 and seconds(45) == 45
    with pytest.raises(ValueError):
        moment("noonish", start)


def test_strategies_are_named_module_class_with_literal_parameters() -> None:
    team, target, params = parse_swap("Maker A=bots.market_maker:MarketMaker(levels=2)")
    assert (team, target, params) == ("Maker A", "bots.market_maker:MarketMaker", {"levels": 2})
    assert build_strategy(target, params) is not None
    for bad in ("Maker", "Maker=", "M=x:Y(1)", "M=x:Y(a=b)"):
        with pytest.raises(ValueError):
            parse_swap(bad) if "(" not in bad else build_strategy(*parse_swap(bad)[1:])
    with pytest.raises(ValueError, match="cannot import"):
        build_strategy("no.such.module:Bot", {})
    with pytest.raises(ValueError, match="not a TradingStrategy"):
        build_strategy("collections:OrderedDict", {})


def test_update_writes_the_digest_and_keeps_the_comments(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("# a comment\nname: s\nexpect:\n  min_trades: 1\n")
    write_digest(path, "ab" * 32)
    assert path.read_text().startswith("# a comment")
    assert load_scenario(path).expect.digest == "ab" * 32
    write_digest(path, "cd" * 32)
    assert load_scenario(path).expect.digest == "cd" * 32


def test_invariants_are_checked_at_every_tick_and_a_breach_mid_day_is_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    replay = Replay(scenario(participants=SCRIPTED))
    buyer = replay.session.ledger.account(replay.ids["Buyer"])
    buyer.cash_ticks += 100  # money from nowhere, as a bug would make it
    replay.check_invariants(TimeNs(replay.start + seconds("1m") * NS_PER_SECOND))
    buyer.cash_ticks -= 100  # gone again by the end of the day
    checked: list[int] = []
    check = replay.check_invariants

    def counted(now: TimeNs) -> None:
        checked.append(now)
        check(now)

    monkeypatch.setattr(replay, "check_invariants", counted)
    report = build_report(replay.run())
    assert len(checked) >= 6  # 30 minutes: a check at each 5-minute tick
    breaches = [p for p in report.invariants if p.startswith("at 2026-12-01T09:21:00-06:00: ")]
    assert breaches == report.invariants  # found then, and only then
    assert any("cash" in p for p in breaches), breaches
    assert f"invariant broken: {breaches[0]}" in report.failures


def test_a_breach_that_lasts_is_listed_once_from_when_it_began() -> None:
    # No retail crowd: its fees would change the breach's figures at every tick.
    replay = Replay(scenario(participants=SCRIPTED, config={"market": {"retail": False}}))
    replay.session.ledger.account(replay.ids["Buyer"]).cash_ticks += 100
    report = build_report(replay.run())
    assert report.invariants and len(set(report.invariants)) == len(report.invariants)
    first_step = "at 2026-12-01T09:20:05-06:00: "  # the first observation, 5 s in
    assert all(p.startswith(first_step) for p in report.invariants), report.invariants
