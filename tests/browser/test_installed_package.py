"""The dashboard of a pip-installed server: the wheel carries the charting library.

The wheel is built from this tree (`pip wheel .`, whose build step copies uPlot in from
node_modules), installed into a fresh virtualenv, and that venv's
`python -m exchange serve --preset sandbox` is started on a free port of 127.0.0.1, far
from this repository's node_modules: the page's chart script must come from the
installed package, and in Chromium a chart must draw. The new venv finds the
dependencies (numpy, starlette...) in this one's site-packages through a `.pth` line,
so nothing is downloaded; `exchange` itself is only the wheel's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange.web import dashboard
from tests.server.harness import Bot, free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without the node_modules override or any admin token."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXCHANGE_")}
    env.pop("PYTHONPATH", None)
    return env | extra


def build_wheel(out: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh venv with the wheel built from this tree installed in it."""
    if not dashboard.uplot_installed():
        pytest.skip("uPlot is not installed: run `npm ci` at the repository")
    tmp = tmp_path_factory.mktemp("installed")
    built = build_wheel(tmp / "dist", clean_env())
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp / "dist").glob("trading_game_exchange-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
    subprocess.run([*pip, "--no-deps", "--no-index", str(wheel)], check=True, timeout=120)
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    where = subprocess.run(
        [python, "-c", "import exchange; print(exchange.__file__)"],
        capture_output=True, text=True, check=True, cwd=tmp, env=clean_env(),
    )  # fmt: skip
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout
    return python


@pytest.fixture(scope="module")
def served(installed: Path) -> Iterator[str]:
    """`python -m exchange serve --preset sandbox` of the installed package."""
    port = free_port()
    command = [str(installed), "-m", "exchange", "serve", "--preset", "sandbox"]
    command += ["--port", str(port)]
    log = installed.parents[2] / "serve.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=installed.parents[2], env=clean_env(), stdout=output, stderr=output
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not up(base):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the installed server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(10)


def up(base: str) -> bool:
    try:
        return httpx.get(base + "/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_the_installed_server_serves_the_chart_library(served: str) -> None:
    page = httpx.get(served + "/", timeout=5)
    assert page.status_code == 200
    assert '<script src="/vendor/uplot/uPlot.iife.min.js"' in page.text
    dist = ROOT / "node_modules" / "uplot" / "dist"
    for name in ("uPlot.iife.min.js", "uPlot.min.css"):
        reply = httpx.get(f"{served}/vendor/uplot/{name}", timeout=5)
        assert reply.status_code == 200, name
        assert reply.content == (dist / name).read_bytes(), name


def test_the_installed_server_draws_a_chart(served: str, chromium: Any) -> None:
    """A quote gives SPX a mid; the page's SPX chart draws it on a canvas."""
    maker = Bot(served, "market_maker", "Wheel Maker")
    try:
        assert maker.quote("SPX", 4400.0, 4401.0).status_code == 201
    finally:
        maker.close()
    context = chromium.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        page.goto(served + "/")
        page.wait_for_function(
            "() => document.querySelector('#chart-SPX canvas') && "
            "+document.querySelector('#chart-SPX').dataset.points >= 1",
            timeout=30_000,
        )
        assert page.locator(".nochart-note").count() == 0
        assert problems == []
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "installed-package.png"), full_page=True)
        context.close()


def test_a_wheel_without_npm_ci_fails_to_build_and_says_why(tmp_path: Path) -> None:
    built = build_wheel(tmp_path / "dist", clean_env(EXCHANGE_NODE_MODULES=str(tmp_path)))
    assert built.returncode != 0
    assert "run `npm ci --no-audit --no-fund`" in built.stdout + built.stderr
    assert not list((tmp_path / "dist").glob("*.whl"))
