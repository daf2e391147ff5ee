"""The Dockerfile and compose.yaml: the demo built, started, answering on loopback with
its database on the volume, and the game kept when the container is replaced.

Needs a Docker engine (`docker info` must succeed); skipped, saying why, where there is
none."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
import yaml

from exchange.__main__ import build_parser
from tests.server.harness import free_port

ROOT = Path(__file__).resolve().parents[2]
BUILD_SECONDS = 900
UP_SECONDS = 90


def engine_missing() -> str | None:
    if shutil.which("docker") is None:
        return "no docker command on this machine"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 30 s"
    if info.returncode != 0:
        return f"no Docker engine: `docker info` failed ({info.stderr.strip()[:200]})"
    compose = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    if compose.returncode != 0:
        return "the docker command has no `compose` plugin"
    return None


class Compose(NamedTuple):
    command: list[str]
    env: dict[str, str]
    base: str

    def run(self, *args: str, timeout: float = UP_SECONDS) -> None:
        subprocess.run([*self.command, *args], cwd=ROOT, env=self.env, timeout=timeout,
                       check=True)  # fmt: skip


@pytest.fixture(scope="module")
def compose() -> Iterator[Compose]:
    """`docker compose` for a project of this module's own on a free loopback port, torn
    down with its volume."""
    reason = engine_missing()
    if reason is not None:
        pytest.skip(reason)
    port = free_port()
    command = ["docker", "compose", "--project-directory", str(ROOT),
               "--project-name", f"exchange-test-{port}"]  # fmt: skip
    env = {**os.environ, "EXCHANGE_PORT": str(port)}
    project = Compose(command, env, f"http://127.0.0.1:{port}")
    try:
        project.run("build", timeout=BUILD_SECONDS)
        yield project
    finally:
        subprocess.run([*command, "down", "--volumes"], cwd=ROOT, env=env, timeout=120)


def up(compose: Compose) -> str:
    compose.run("up", "--detach")
    deadline = time.monotonic() + UP_SECONDS
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{compose.base}/health", timeout=2).status_code == 200:
                return compose.base
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the container did not answer /health within {UP_SECONDS} s")


def test_the_demo_runs_in_compose_and_keeps_its_game_on_the_volume(
    compose: Compose,
) -> None:
    base = up(compose)
    health = httpx.get(f"{base}/health", timeout=5).json()["data"]
    assert health["database"] is not None  # the demo writes /data/demo.db
    assert httpx.get(f"{base}/vendor/uplot/uPlot.iife.min.js", timeout=5).status_code == 200
    body = {"team_name": "docker-desk", "role": "market_maker"}
    team = httpx.post(f"{base}/auth/register", json=body, timeout=5).json()["data"]

    compose.run("down")  # the container goes; the volume stays
    base = up(compose)
    again = httpx.get(f"{base}/positions/{team['team_id']}", timeout=5,
                      headers={"X-API-Key": team["api_key"]})  # fmt: skip
    assert again.status_code == 200, again.text


def dockerfile_command() -> list[str]:
    text = (ROOT / "Dockerfile").read_text()
    (entry,) = re.findall(r"^ENTRYPOINT (\[.*\])$", text, re.M)
    (command,) = re.findall(r"^CMD (\[.*\])$", text, re.M)
    return [*json.loads(entry), *json.loads(command)]


def test_the_images_command_serves_the_demo_on_the_composed_volume() -> None:
    """Without an engine: the image's command is one the server's parser takes, and its
    database lies on the volume compose.yaml mounts."""
    command = dockerfile_command()
    assert command[:3] == ["python", "-m", "exchange"]
    args = build_parser().parse_args(command[3:])
    assert (args.command, args.preset, args.host) == ("serve", "demo", "0.0.0.0")
    service = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["exchange"]
    volume, mount = service["volumes"][0].split(":")
    assert volume in yaml.safe_load((ROOT / "compose.yaml").read_text())["volumes"]
    assert Path(args.db).parent == Path(mount)
    for line in re.findall(r"^COPY (?!--from)(.*) \S+$", (ROOT / "Dockerfile").read_text(), re.M):
        for source in line.split():
            assert (ROOT / source).exists(), source
