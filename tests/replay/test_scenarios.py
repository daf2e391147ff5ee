"""Every committed scenario, replayed: its expectations hold, its digest is the one
committed beside it, and a second run plays the very same game."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from exchange.replay.engine import Replay
from exchange.replay.report import build_report
from exchange.replay.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def test_the_scenarios_cover_the_days_the_game_promises() -> None:
    names = {p.stem for p in SCENARIOS}
    wanted = {"quiet-day", "volatile-news-day", "opening-auction", "maker-breach", "all-roles"}
    assert wanted <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_a_scenario_meets_its_expectations_twice_with_one_digest(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.expect.digest, f"{path.name}: run `replay --update` to record its digest"
    first = build_report(Replay(scenario).run())
    assert first.failures == []
    again = build_report(Replay(scenario).run())
    assert again.digest == first.digest == scenario.expect.digest
    assert again.trades == first.trades and again.teams == first.teams


def test_the_command_line_replays_a_file_and_reports(tmp_path: Path) -> None:
    path = ROOT / "scenarios" / "opening-auction.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "exchange", "replay", str(path), "--out", str(tmp_path), "--quiet"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    digest = load_scenario(path).expect.digest
    assert digest is not None and digest in done.stdout
    assert (tmp_path / "opening-auction.report.json").exists()
