"""Tournaments on a real local Dask cluster of 2 worker processes against the same
tournament played in this process: same standings, same digests; a failing bot loses
only its own days; a worker killed mid-run costs nothing but time."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from exchange.__main__ import main
from exchange.tournament.days import DayResult, build_days
from exchange.tournament.results import TournamentResults, results
from exchange.tournament.run import connect, run_days
from exchange.tournament.spec import load_tournament
from tests.support import TEAMS, tournament_file

BOOM = """\
from exchange.domain.strategy import Strategy

class Boom(Strategy):
    def __init__(self, after=3):
        self.after = after
        self.seen = 0

    def on_market(self, snapshot):
        self.seen += 1
        if self.seen > self.after:
            raise RuntimeError("the team's bug")
        return ()
"""


def play(path: Path, client: Any = None, on_done: Any = None) -> TournamentResults:
    t = load_tournament(path)
    return results(t.name, t.seed, run_days(build_days(t), client, on_done))


def encoded(r: TournamentResults) -> bytes:
    return msgspec.json.encode(r)


@pytest.mark.parametrize("fmt", ["field", "solo", "groups"])
def test_two_workers_give_the_results_and_digests_of_one_process(
    tmp_path: Path, cluster: Any, fmt: str
) -> None:
    path = tournament_file(tmp_path, fmt)
    here = play(path)
    there = play(path, cluster)
    assert encoded(there) == encoded(here)
    assert [d.key for d in there.days] == sorted(d.key for d in there.days)
    assert len({d.digest for d in here.days}) == len(here.days)  # every day its own game
    assert {s.team for s in here.standings} == {"Alpha", "Beta", "Gamma"}
    days_each = {"field": 4, "solo": 4, "groups": 4}[fmt]  # one day per seed for each team
    assert all(s.days == days_each for s in here.standings)


def test_groups_are_drawn_from_the_seed_and_every_team_plays_each_round(
    tmp_path: Path,
) -> None:
    t = load_tournament(tournament_file(tmp_path, "groups"))
    days = build_days(t)
    for seed in t.seeds:
        rounds = [sorted(team.name for team in d.teams) for d in days if d.seed == seed]
        assert sorted(n for group in rounds for n in group) == ["Alpha", "Beta", "Gamma"]
        assert sorted(len(g) for g in rounds) == [1, 2]
    draws = {tuple(tuple(team.name for team in d.teams) for d in days if d.seed == s)
             for s in t.seeds}  # fmt: skip
    assert len(draws) > 1  # the seed draws the groups, not a fixed split
    assert [d.key for d in build_days(t)] == [d.key for d in days]


def test_a_bot_that_raises_loses_only_its_own_days(tmp_path: Path, cluster: Any) -> None:
    (tmp_path / "boom.py").write_text(BOOM)
    teams = TEAMS + '  - {name: Delta, role: hedge_fund, strategy: "boom.py:Boom(after=2)"}\n'
    path = tournament_file(tmp_path, "groups", teams)
    done = play(path, cluster)
    assert encoded(done) == encoded(play(path))
    delta = [t for d in done.days for t in d.teams if t.team == "Delta"]
    assert len(delta) == 4 and all("raised RuntimeError: the team's bug" in (t.lost or "")
                                   for t in delta)  # fmt: skip
    others = [t for d in done.days for t in d.teams if t.team != "Delta"]
    assert others and all(t.lost is None for t in others)
    for day in done.days:
        scores = {t.team: t.score for t in day.teams}
        if "Delta" in scores:
            assert scores["Delta"] == min([0.0, *scores.values()])
    standing = {s.team: s for s in done.standings}
    assert standing["Delta"].lost_days == 4
    assert all(standing[n].lost_days == 0 for n in ("Alpha", "Beta", "Gamma"))


def test_a_bot_over_its_time_budget_loses_the_day(tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(
        "import time\nfrom exchange.domain.strategy import Strategy\n\n"
        "class Slow(Strategy):\n"
        "    def on_market(self, snapshot):\n"
        "        end = time.thread_time() + 0.02\n"
        "        while time.thread_time() < end:\n"
        "            pass\n"
        "        return ()\n"
    )
    teams = TEAMS + '  - {name: Slow, role: arbitrage, strategy: "slow.py:Slow"}\n'
    done = play(tournament_file(tmp_path, "field", teams, "time_budget: 0.1\n"))
    slow = [t for d in done.days for t in d.teams if t.team == "Slow"]
    assert len(slow) == 4 and all("time budget" in (t.lost or "") for t in slow)
    assert all(t.lost is None for d in done.days for t in d.teams if t.team != "Slow")


def test_the_collectors_time_in_a_callback_is_not_the_bots(tmp_path: Path) -> None:
    # Each of its first ten callbacks runs a full collection over half a million live
    # objects (tens of ms each, more than the whole budget together) and thinks for
    # next to nothing: the collection is not its thinking, whoever happens to make it.
    (tmp_path / "heavy.py").write_text(
        "import gc\nfrom exchange.domain.strategy import Strategy\n\n"
        "HEAP = [[] for _ in range(500_000)]\n\n"
        "class Heavy(Strategy):\n"
        "    calls = 0\n\n"
        "    def on_market(self, snapshot):\n"
        "        self.calls += 1\n"
        "        if self.calls <= 10:\n"
        "            gc.collect()\n"
        "        return ()\n"
    )
    teams = TEAMS + '  - {name: Heavy, role: arbitrage, strategy: "heavy.py:Heavy"}\n'
    done = play(tournament_file(tmp_path, "field", teams, "time_budget: 0.1\n"))
    heavy = [t for d in done.days for t in d.teams if t.team == "Heavy"]
    assert len(heavy) == 4 and all(t.lost is None for t in heavy)


def test_a_worker_killed_mid_run_costs_nothing_but_time(tmp_path: Path) -> None:
    path = tournament_file(tmp_path, "solo")
    expected = play(path)
    killed: list[int] = []
    with connect(2, None) as client:
        assert client is not None

        def kill_a_busy_worker(_: DayResult) -> None:
            if killed:
                return
            busy = [w for w, keys in client.processing().items() if keys]
            target = (busy or list(client.scheduler_info()["workers"]))[0]
            pid = client.run(os.getpid, workers=[target])[target]  # no pid in scheduler_info
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

        done = play(path, client, kill_a_busy_worker)
    assert killed
    assert encoded(done) == encoded(expected)


def test_the_command_writes_csv_json_and_a_self_contained_html_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tournament_file(tmp_path, "field")
    out = tmp_path / "out"
    assert main(["tournament", str(path), "--workers", "0", "--quiet", "--out", str(out)]) == 0
    stored = msgspec.json.decode((out / "small-field.json").read_bytes(), type=TournamentResults)
    assert encoded(stored) == encoded(play(path))
    standings = (out / "small-field.standings.csv").read_text().splitlines()
    assert standings[0].startswith("format,team,role,days,lost_days,pnl_mean")
    assert len(standings) == 4
    days = (out / "small-field.days.csv").read_text().splitlines()
    assert len(days) == 1 + 4 * 3
    html = (out / "small-field.html").read_text()
    assert "<svg" in html and "Alpha" in html and stored.days[0].digest in html
    assert "<script" not in html and "src=" not in html and "href=" not in html
    assert "Alpha" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("group_size: 9\n", "group_size must be from 1 to the 3 teams"),
        ("seeds: [2, 2]\n", "without repeats"),
        ("colour: red\n", "colour"),
    ],
)
def test_a_bad_file_is_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, message: str
) -> None:
    path = tournament_file(tmp_path, "groups", extra=line)
    assert main(["tournament", str(path), "--workers", "0", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and message in err


def test_a_team_file_that_does_not_compile_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "broken.py").write_text("class Broken(:\n")
    teams = TEAMS + '  - {name: Delta, role: hedge_fund, strategy: "broken.py:Broken"}\n'
    path = tournament_file(tmp_path, "field", teams)
    assert main(["tournament", str(path), "--workers", "0", "--out", str(tmp_path)]) == 2
    assert "team Delta" in capsys.readouterr().err
