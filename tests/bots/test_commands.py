"""Each Python bot started exactly as `bots/README.md` says, against a demo server, as a
process of its own: it runs, stops when told, and reports what it did."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "bots" / "README.md"
ROOT = README.parents[1]
SECONDS = "8"  # long enough for a first quote on a loaded 2-core machine


def readme_commands() -> dict[str, list[str]]:
    """`python -m bots.NAME ...` from each line of the table, by module name."""
    found = re.findall(r"`(python -m bots\.(\w+) [^`]*)`", README.read_text())
    return {name: shlex.split(command) for command, name in found}


def against(command: list[str], url: str) -> list[str]:
    """The README's command pointed at `url`, bounded to a few seconds, quiet."""
    out = [url if arg.startswith("http://127.0.0.1:8000") else arg for arg in command]
    if "--seconds" in out:
        out[out.index("--seconds") + 1] = SECONDS
    else:
        out += ["--seconds", SECONDS]
    return [sys.executable, *out[1:]]


def start(command: list[str], log: Path) -> subprocess.Popen[str]:
    """Output to files: a pipe nobody reads yet would fill up and stall the bot."""
    with log.open("w") as out, log.with_suffix(".err").open("w") as err:
        return subprocess.Popen(command, cwd=ROOT, text=True, stdout=out, stderr=err)


def test_the_readme_lists_a_command_for_every_python_bot() -> None:
    assert set(readme_commands()) == {
        "rest_bot", "stream", "market_maker", "hedge_fund", "arbitrage", "load"
    }  # fmt: skip


def test_every_readme_command_runs_against_a_demo_server(demo_url: str, tmp_path: Path) -> None:
    logs = {name: tmp_path / f"{name}.log" for name in readme_commands()}
    procs = {
        name: start(against(cmd, demo_url), logs[name]) for name, cmd in readme_commands().items()
    }
    results: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 90
    try:
        for name, proc in procs.items():
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            output = logs[name].read_text()
            errors = logs[name].with_suffix(".err").read_text()
            assert proc.returncode == 0, (name, errors[-2000:])
            results[name] = json.loads(output.strip().splitlines()[-1])
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert results["rest_bot"]["bot"] == "rest_bot" and results["rest_bot"]["orders"] > 0
    assert results["stream"]["messages"]["market_data"] > 0
    for name in ("market_maker", "hedge_fund", "arbitrage"):
        assert results[name]["bot"] == name and results[name]["market_calls"] > 0
    assert results["market_maker"]["orders"] > 0
    assert results["load"]["bench"] == "load" and results["load"]["orders"] > 0
