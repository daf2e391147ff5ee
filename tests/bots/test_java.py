"""The Java bot skeleton: compiled with `javac`, run against a live demo server, it
places an order and prints the fill the stream reports. Skipped only without a JDK."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "bots" / "java" / "ExchangeBot.java"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    javac = shutil.which("javac")
    if javac is None or shutil.which("java") is None:
        pytest.skip("no JDK: javac not found")
    out = tmp_path_factory.mktemp("java")
    done = subprocess.run([javac, "-Xlint:all", "-Werror", "-d", str(out), str(SOURCE)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (out / "ExchangeBot.class").exists()
    return out


def test_java_bot_places_an_order_and_prints_its_fill(compiled: Path, demo_url: str) -> None:
    java = shutil.which("java")
    assert java is not None
    command = [java, "-cp", str(compiled), "ExchangeBot", "--url", demo_url, "--seconds", "20"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, (done.stdout, done.stderr)
    lines = done.stdout.splitlines()
    assert any(line.startswith("registered T") for line in lines), lines
    accepted = [line for line in lines if line.startswith("accepted order ")]
    fills = [line for line in lines if line.startswith("fill: buy 1 SPX @ ")]
    assert accepted and fills, lines
    # An order the house's quote moved away from is cancelled and placed again.
    order_ids = {line.split()[2].rstrip(":") for line in accepted}
    assert fills[0].split(", order ")[1].split()[0] in order_ids, lines
    assert fills[0].endswith(" filled"), lines


def test_java_bot_fails_plainly_on_a_wrong_key(compiled: Path, demo_url: str) -> None:
    java = shutil.which("java")
    assert java is not None
    command = [java, "-cp", str(compiled), "ExchangeBot", "--url", demo_url, "--key", "nope",
               "--seconds", "3"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "stream closed: 1008" in done.stdout and "accepted order" not in done.stdout
