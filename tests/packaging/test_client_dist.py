"""The client distribution as a bot author gets it: its wheel built from client/, in a
fresh virtual environment with nothing else of the repository, run from another
directory against a live demo server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bots.support import fast_demo
from tests.server.harness import run_server

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("numpy", "scipy", "starlette", "uvicorn", "aiosqlite")
INSTALL_SECONDS = 600
BOT_SECONDS = 4


def run(command: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{command}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def client_python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The python of a new venv holding only the client wheel and its dependencies."""
    top = tmp_path_factory.mktemp("client-dist")
    wheels = top / "wheels"
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(wheels)]
    run([*pip_wheel, str(ROOT / "client")], top, INSTALL_SECONDS)
    (wheel,) = wheels.glob("trading_game_exchange_client-*.whl")
    run([sys.executable, "-m", "venv", str(top / "venv")], top, INSTALL_SECONDS)
    python = top / "venv" / "bin" / "python"
    run([str(python), "-m", "pip", "install", "-q", str(wheel)], top, INSTALL_SECONDS)
    yield python


def test_the_installed_client_trades_from_any_directory(
    client_python: Path, tmp_path: Path
) -> None:
    where = run([str(client_python), "-c", "import exchange, bots; print(exchange.__file__)"],
                tmp_path, 60)  # fmt: skip
    assert Path(where.stdout.strip()).is_relative_to(client_python.parents[1])
    for name in HEAVY:  # not even installed: the client needs none of them
        found = run([str(client_python), "-c", f"import importlib.util as u; "
                     f"print(u.find_spec({name!r}) is None)"], tmp_path, 60)  # fmt: skip
        assert found.stdout.strip() == "True", name
    timing = run([str(client_python), "-X", "importtime", "-c", "import exchange.client"],
                 tmp_path, 60)  # fmt: skip
    imported = {line.rsplit("|", 1)[-1].strip() for line in timing.stderr.splitlines()}
    assert "exchange.client.remote" in imported
    assert {m for m in imported if m.split(".")[0] in HEAVY} == set()

    with run_server(fast_demo()) as base:
        bot = run([str(client_python), "-m", "bots.market_maker", "--url", base,
                   "--seconds", str(BOT_SECONDS), "--quiet"], tmp_path, 60)  # fmt: skip
        stats = json.loads(bot.stdout.strip().splitlines()[-1])
        assert stats["bot"] == "market_maker" and stats["market_calls"] > 0
        assert stats["orders"] > 0

        example = readme_example(base)
        (tmp_path / "example.py").write_text(example)
        done = run([str(client_python), "example.py"], tmp_path, 60)
        assert "RunStats(" in done.stdout


def readme_example(base: str) -> str:
    """client/README.md's Python example, pointed at `base` and run for a few seconds."""
    text = (ROOT / "client" / "README.md").read_text()
    (code,) = re.findall(r"```python\n(.*?)```", text, re.S)
    assert isinstance(code, str)
    assert '"http://127.0.0.1:8000"' in code and "seconds=60" in code
    return code.replace('"http://127.0.0.1:8000"', repr(base)).replace(
        "seconds=60", f"seconds={BOT_SECONDS}"
    )
