"""The client distribution's contents: what `import exchange.client` and the shipped bots
load (no numpy, no server stack), and that client/pyproject.toml lists exactly that."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import exchange

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "client" / "pyproject.toml"
HEAVY = {"numpy", "scipy", "starlette", "uvicorn", "aiosqlite", "yaml", "sortedcontainers"}
SERVER = {"exchange.pipeline", "exchange.web", "exchange.store", "exchange.replay"}


def shipped() -> list[str]:
    sources: list[str] = tomllib.loads(CLIENT.read_text())["tool"]["hatch"]["build"]["hooks"][
        "custom"
    ]["sources"]
    return sources


def module_of(path: str) -> str:
    name = path.removesuffix(".py").replace("/", ".")
    return name.removesuffix(".__init__")


def loaded_by(modules: list[str]) -> list[str]:
    """Every module a fresh interpreter holds after importing `modules`."""
    code = f"import importlib, json, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
    code += "print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    names: list[str] = json.loads(done.stdout)
    return names


def ours(names: list[str]) -> set[str]:
    return {n for n in names if n.split(".")[0] in {"exchange", "bots"}}


def test_the_client_imports_neither_numpy_nor_the_server() -> None:
    names = loaded_by(["exchange.client"])
    assert {n.split(".")[0] for n in names} & HEAVY == set()
    assert {n for n in names if n.startswith(tuple(SERVER))} == set()
    assert "exchange.domain.session" not in names  # the engine stays with the server


def test_the_client_ships_what_it_imports_and_nothing_else() -> None:
    modules = [module_of(p) for p in shipped() if p.endswith(".py")]
    names = loaded_by(modules)
    assert {n.split(".")[0] for n in names} & HEAVY == set()
    assert ours(names) == set(modules)
    for path in shipped():
        assert (ROOT / path).is_file(), path


def test_the_client_has_the_servers_version_and_license() -> None:
    client = tomllib.loads(CLIENT.read_text())["project"]
    server = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert client["version"] == server["version"] == exchange.__version__
    assert client["license"] == server["license"] == "MIT"
    assert (ROOT / "client" / "LICENSE").read_text() == (ROOT / "LICENSE").read_text()
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
