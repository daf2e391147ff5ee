"""Headless Chromium (Debian's `chromium`) for the browser tests, once per module.

Without Chromium, the `playwright` package or uPlot (`npm ci`), a browser test is
skipped with the reason, except in CI (CI=true), where a missing piece is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exchange.web import dashboard

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def missing(reason: str) -> None:
    """Skip for a missing browser piece; in CI the piece is installed, so fail instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the test setup must install it)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        missing(f"{CHROMIUM} is missing: apt-get install chromium (nox -s tests does it as root)")
    if not dashboard.uplot_installed():
        missing("uPlot is not installed: run `npm ci` at the repository (nox -s tests does)")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        yield browser
        browser.close()
