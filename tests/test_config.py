"""Config layering and the command line."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange.__main__ import build_parser, load, main
from exchange.config import load_config, merge
from exchange.domain.phases import AlwaysOpen, TradingDaySchedule
from exchange.domain.types import Role
from tests.server.harness import free_port


def test_defaults_carry_the_spec_role_table() -> None:
    config = load_config()
    fees = config.fees()
    assert (fees[Role.MARKET_MAKER].maker_ticks, fees[Role.MARKET_MAKER].taker_ticks) == (2, -1)
    assert (fees[Role.RETAIL].maker_ticks, fees[Role.RETAIL].taker_ticks) == (-1, -3)
    assert (fees[Role.HOUSE].maker_ticks, fees[Role.HOUSE].taker_ticks) == (0, 0)
    assert isinstance(config.schedule.build(), TradingDaySchedule)


def test_sandbox_preset_trades_at_all_hours() -> None:
    assert isinstance(load_config(preset="sandbox").schedule.build(), AlwaysOpen)


def test_organiser_file_overrides_keys_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "game.yaml"
    path.write_text(
        'seed: 42\nschedule: {close: "14:00:00"}\nroles: {retail: {fees: {taker: -0.05}}}\n'
    )
    config = load_config([path])
    assert config.seed == 42
    assert config.schedule.close.hour == 14 and config.schedule.pre_open.hour == 8
    assert config.fees()[Role.RETAIL].taker_ticks == -5
    assert config.fees()[Role.RETAIL].maker_ticks == -1
    assert config.constraints()[Role.RETAIL]  # constraints kept from the preset


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("schedule: {bogus: 1}\n", "bogus"),
        ("roles: {retail: {constraints: [{type: position_limt}]}}\n", "position_limt"),
        ("schedule: {trading_days: [funday]}\n", "funday"),
        ("- just a list\n", "mapping"),
        ("seed: [unclosed\n", "YAML"),
        ("server: {history_bytes: 1000, max_backlog_bytes: 1000}\n", "history_bytes"),
        ("server: {stall_check: 0}\n", "stall_check"),
        ("server: {max_teams: 0}\n", "max_teams"),
        ("server: {max_teams: 10000}\n", "max_teams"),
    ],
)
def test_bad_config_fails_loudly_with_its_path(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=needle):
        load_config([path])


def test_unknown_preset_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown preset"):
        load_config(preset="nope")


def test_merge_merges_mappings_and_replaces_the_rest() -> None:
    assert merge({"a": {"b": 1, "c": [1]}}, {"a": {"c": [2]}}) == {"a": {"b": 1, "c": [2]}}


def test_cli_lists_the_chain(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["instruments", "--date", "2026-11-24"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 242
    assert lines[0].startswith("SPX ") and "SPX_CALL_4400_20261127" in "\n".join(lines)


def test_cli_reports_a_bad_config_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: nope\n")
    done = subprocess.run(
        [sys.executable, "-m", "exchange", "config", "--config", str(bad)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "invalid game config" in done.stderr and "Traceback" not in done.stderr


def test_cli_prints_the_effective_config_with_the_seed_override(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["config", "--preset", "sandbox", "--seed", "9"]) == 0
    out = capsys.readouterr().out
    assert "seed: 9" in out and "always_open: true" in out


def test_cli_exports_a_game_database_as_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from exchange.store.db import Database

    db = tmp_path / "game.db"
    Database.open(db).close()
    assert main(["export", "--db", str(db), "--out", str(tmp_path / "out")]) == 0
    written = capsys.readouterr().out.split()
    assert any(p.endswith("trades.csv") for p in written)
    assert (tmp_path / "out" / "trades.csv").read_text().startswith("trade_id,")
    assert main(["export", "--db", str(tmp_path / "missing.db"), "--out", str(tmp_path)]) == 2


def test_the_admin_token_comes_from_the_environment_first() -> None:
    from exchange.config import ADMIN_TOKEN_ENV, admin_token

    server = load_config(overrides={"server": {"admin_token": "from-the-file"}}).server
    assert admin_token(server, {}) == "from-the-file"
    assert admin_token(server, {ADMIN_TOKEN_ENV: "from-the-env"}) == "from-the-env"
    assert admin_token(load_config().server, {}) is None  # admin off
    with pytest.raises(ValueError, match=ADMIN_TOKEN_ENV):
        admin_token(server, {ADMIN_TOKEN_ENV: "short"})


@pytest.mark.parametrize("token", ["short", "has a space", "tab\there-and-more"])
def test_a_weak_admin_token_in_the_config_is_refused(token: str) -> None:
    with pytest.raises(ValueError, match="admin token"):
        load_config(overrides={"server": {"admin_token": token}})


def test_serve_takes_the_clock_speed_and_a_paused_start_from_the_command_line() -> None:
    """`serve --speed 60 --start-paused`: the server says so on /health, waiting."""
    port = free_port()
    flags = ["--port", str(port), "--speed", "60", "--start-paused", "--log-level", "error"]
    command = [sys.executable, "-m", "exchange", "serve", "--preset", "sandbox", *flags]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as server:
        try:
            health = _health_when_up(f"http://127.0.0.1:{port}", server)
        finally:
            server.terminate()
            server.wait(10)
    assert health["clock_speed"] == 60.0
    assert health["game_state"] == "waiting" and health["paused"] is True


def _health_when_up(base: str, server: subprocess.Popen[bytes]) -> dict[str, Any]:
    for _ in range(200):  # at most ~20 s for the interpreter to start and bind
        assert server.poll() is None, server.stderr.read() if server.stderr else ""
        try:
            data: dict[str, Any] = httpx.get(base + "/health", timeout=1).json()["data"]
            return data
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the server did not answer /health")


@pytest.mark.parametrize("speed", ["0", "-1", "nan", "fast", "20000"])
def test_serve_refuses_a_speed_out_of_range(speed: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "exchange", "serve", "--speed", speed],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "argument --speed: " in done.stderr and "Traceback" not in done.stderr


def test_without_the_flags_the_config_keeps_its_clock(tmp_path: Path) -> None:
    game = tmp_path / "game.yaml"
    game.write_text("clock: {speed: 30, start_paused: true}\n")
    kept = load(build_parser().parse_args(["serve", "--config", str(game)]))
    assert kept.clock.speed == 30 and kept.clock.start_paused
    faster = load(build_parser().parse_args(["serve", "--config", str(game), "--speed", "90"]))
    assert faster.clock.speed == 90 and faster.clock.start_paused
