"""Project tasks: `python3 noxfile.py -s NAME`, or plain `nox -s NAME` where nox is installed.

Run as a script on a machine without nox, this file first installs nox into
`.nox/_bootstrap` (a virtualenv of its own) and re-runs itself there, so a fresh clone
needs nothing but Python 3.11+.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _bootstrap() -> None:
    """Re-run this file under a private virtualenv that has nox."""
    venv = HERE / ".nox" / "_bootstrap"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "nox>=2024.4"], check=True)
    os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


try:
    import nox
except ModuleNotFoundError:
    if __name__ != "__main__":
        raise
    _bootstrap()

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True


def install_uplot(session: nox.Session) -> None:
    """The dashboard's charting library and the contract tests' tools (`@asyncapi/parser`,
    `openapi-typescript`, `typescript`: devDependencies), by `npm ci` from
    package-lock.json, when one is missing or older than the lockfile. Without npm the
    page works, minus its charts, and the contract tests that need node skip."""
    modules = HERE / "node_modules"
    stamp = modules / ".package-lock.json"  # written by each npm install
    needed = [modules / "uplot" / "dist" / "uPlot.iife.min.js",
              modules / "@asyncapi" / "parser" / "package.json",
              modules / ".bin" / "openapi-typescript", modules / ".bin" / "tsc"]  # fmt: skip
    lock = HERE / "package-lock.json"
    fresh = stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime
    if fresh and all(path.exists() for path in needed):
        return
    if shutil.which("npm") is None:
        session.warn("npm not found: the dashboard will say its charts need `npm ci`")
        return
    session.run("npm", "ci", "--include=dev", "--no-audit", "--no-fund", external=True)


def install_chromium(session: nox.Session) -> None:
    """Debian's Chromium for the browser test, installed when missing and running as
    root. Otherwise that test skips with the reason, or fails when CI=true."""
    if Path("/usr/bin/chromium").exists():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        session.warn("no /usr/bin/chromium and not root: the browser test cannot run here")
        return
    apt = {"DEBIAN_FRONTEND": "noninteractive"}
    session.run("apt-get", "update", external=True, env=apt)
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    session.run(*install, external=True, env=apt)


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite: domain, server, storage, properties, the dashboard in Chromium
    (loopback only)."""
    session.install("-e", ".[test]")
    install_uplot(session)
    install_chromium(session)
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install("ruff>=0.17,<0.18")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy: strict on the package, looser on the tests (so it needs their packages too)."""
    session.install("-e", ".[test]", "mypy>=1.10", "types-PyYAML>=6", "types-tqdm>=4.66")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks; each prints its figures and JSON summaries as its last lines."""
    session.install("-e", ".")
    session.run("python", "-m", "benchmarks.matching")
    session.run("python", "-m", "benchmarks.pipeline")
    session.run("python", "-m", "benchmarks.scores")
    session.run("python", "-m", "benchmarks.market")
    session.run("python", "-m", "benchmarks.market_quality")
    session.run("python", "-m", "benchmarks.starter_bots")
    session.run("python", "-m", "benchmarks.tournament")
    session.run("python", "-m", "benchmarks.e2e", *session.posargs)
    # One order in flight a bot (as the HTTP bots keep), then four: the latency of a
    # bot that waits for its answer, and the rate with the loop kept full.
    session.run("python", "-m", "benchmarks.ws_orders", "--window", "1")
    session.run("python", "-m", "benchmarks.ws_orders", "--window", "4")


@nox.session
def profile(session: nox.Session) -> None:
    """Where a loaded bench server's time goes (cProfile while 30 bots send orders):
    the top functions and each part's share, JSON last. `-- --db` with SQLite."""
    session.install("-e", ".")
    session.run("python", "-m", "benchmarks.profile", *session.posargs)


@nox.session
def load(session: nox.Session) -> None:
    """The load generator (bots.load) with 1, 10 and 30 bots through the client, against
    a bench server in another process; orders/s and latency percentiles, JSON last."""
    session.install("-e", ".")
    session.run("python", "-m", "benchmarks.load", *session.posargs)


@nox.session
def soak(session: nox.Session) -> None:
    """A demo game at 60x for 10 minutes (`-- --minutes 2` for fewer): 30 load bots and
    300 idle teams; RSS, WAL size and /health latency over time, lost messages, JSON last."""
    session.install("-e", ".")
    session.run("python", "-m", "benchmarks.soak", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The live demo market on http://127.0.0.1:8000, kept in demo.db (SQLite)."""
    session.install("-e", ".")
    install_uplot(session)
    args = session.posargs or ["--db", "demo.db"]
    session.run("python", "-m", "exchange", "serve", "--preset", "demo", *args)


@nox.session
def serve(session: nox.Session) -> None:
    """Run the exchange: `python3 noxfile.py -s serve -- --preset sandbox`."""
    session.install("-e", ".")
    install_uplot(session)
    session.run("python", "-m", "exchange", "serve", *session.posargs)


@nox.session
def cli(session: nox.Session) -> None:
    """The exchange command line: `python3 noxfile.py -s cli -- instruments`."""
    session.install("-e", ".")
    session.run("python", "-m", "exchange", *session.posargs)


if __name__ == "__main__":
    sys.exit(nox.main())
