"""A live demo market with no bot connected is a market: the house quotes every option
and the retail crowd trades, at a fast clock, watched as a spectator would watch it
(the public stream and `GET /market/prices`)."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import httpx
from websockets.sync.client import connect

from exchange.config import load_config
from tests.server.harness import run_server
from tests.support import assert_ok

WATCH_SECONDS = 30.0
"""Wall seconds watched: at 300x, 30 five-minute ticks of continuous trading."""
UNDERLYINGS = {"SPX", "SPY"}


def game_seconds(http: httpx.Client) -> float:
    stamp = assert_ok(http.get("/health"))["game_time"]
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def two_sided(http: httpx.Client) -> tuple[int, int]:
    """(options two-sided, options listed) in continuous trading, else (0, 0)."""
    data: dict[str, Any] = assert_ok(http.get("/market/prices"))
    if data["phase"] != "CONTINUOUS":
        return 0, 0
    options = [i for i in data["instruments"] if i["instrument_id"] not in UNDERLYINGS]
    both = [i for i in options if i["bid"] is not None and i["ask"] is not None]
    return len(both), len(options)


def test_the_demo_at_300x_trades_every_tick_with_a_two_sided_chain() -> None:
    config = load_config(preset="demo", overrides={"clock": {"speed": 300}})
    with run_server(config) as base, httpx.Client(base_url=base, timeout=10) as http:
        ws_url = base.replace("http://", "ws://") + "/ws"
        with connect(ws_url, open_timeout=5, max_size=None) as ws:
            started, prints, quoted, listed = game_seconds(http), 0, 0, 0
            deadline = next_poll = time.monotonic()
            deadline += WATCH_SECONDS
            while (left := deadline - time.monotonic()) > 0:
                if time.monotonic() >= next_poll:
                    both, options = two_sided(http)
                    quoted, listed, next_poll = quoted + both, listed + options, next_poll + 1
                try:
                    message = json.loads(ws.recv(timeout=min(left, 0.5)))
                except TimeoutError:
                    continue
                if message["type"] == "trade":
                    prints += len(message["data"]["trades"])
            ticks = (game_seconds(http) - started) / config.market.model.tick_seconds
            # Every book's fair value is there for a page opened now, without waiting
            # for the book's next market_data.
            lines = assert_ok(http.get("/market/prices"))["instruments"]
            assert lines and all(line["fair_value"] is not None for line in lines)
    assert ticks > 15  # the clock ran at speed: a bound on the test, not a timing claim
    assert prints >= ticks, f"{prints} public trades in {ticks:.0f} ticks"
    assert listed > 0 and quoted / listed >= 0.9, f"{quoted} of {listed} options two-sided"
