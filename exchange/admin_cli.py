"""`python -m exchange admin ...`: the organiser's controls of a running game, from a shell.

Each command is one request to the server's `/admin` endpoints (see docs/api.md,
"Organiser API"). The answer is printed (a table for `teams` and `actions`); a refusal
prints its error code and message on standard error and exits with 1; a server that
cannot be reached, or no token, exits with 2.

    export EXCHANGE_ADMIN_TOKEN=...
    python -m exchange admin pause
    python -m exchange admin --url http://10.0.0.5:8000 news "Fed hints at tightening"
    python -m exchange admin import-teams teams.csv --keys keys.csv
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from exchange.config import ADMIN_TOKEN_ENV

DEFAULT_URL = "http://127.0.0.1:8000"
Call = tuple[str, str, dict[str, Any] | None]
"""(HTTP method, path, JSON body or None)."""


def add_parser(commands: Any) -> None:
    """Add `admin` and its commands to the program's subcommands."""
    admin = commands.add_parser("admin", help="the organiser's controls of a running game")
    admin.add_argument("--url", default=DEFAULT_URL, help=f"the server (default {DEFAULT_URL})")
    admin.add_argument(
        "--token",
        help=f"the admin token (default: ${ADMIN_TOKEN_ENV}; prefer it: a command line is "
        "visible to other users of the machine)",
    )
    admin.add_argument("--timeout", type=float, default=30.0, help="seconds to wait (30)")
    actions = admin.add_subparsers(dest="action", required=True, metavar="COMMAND")
    for name, text in (
        ("status", "the game's state, clock speed, halted books, disabled teams"),
        ("start", "start a game configured with clock.start_paused"),
        ("pause", "freeze the game clock; orders are refused, cancels work"),
        ("resume", "let the game clock run again"),
        ("stop", "end the game: cancel every order, close the books"),
        ("teams", "list the teams"),
        ("open-registration", "let new teams register"),
        ("close-registration", "refuse new teams; registered ones play on"),
        ("new-round", "archive this round; the next starts with the same teams, from zero"),
    ):
        actions.add_parser(name, help=text)
    actions.add_parser("speed", help="set the clock speed").add_argument(
        "speed", type=float, help="game seconds per wall second (0.1 to 10000)"
    )
    actions.add_parser("news", help="publish a headline to every team").add_argument(
        "headline", help="1 to 200 characters"
    )
    for name, text in (("halt", "halt one instrument"), ("unhalt", "resume one instrument")):
        actions.add_parser(name, help=text).add_argument("instrument_id")
    for name, text in (
        ("disable", "disable a team"),
        ("enable", "enable a team again"),
        ("reissue-key", "a new key for a team; the old one stops working"),
    ):
        actions.add_parser(name, help=text).add_argument("team_id")
    reset = actions.add_parser("reset", help="start over: no teams, rounds or record")
    reset.add_argument("--yes", action="store_true", required=True,
                       help="confirm: every team, key and round is deleted")  # fmt: skip
    importer = actions.add_parser("import-teams", help="register teams from a CSV file")
    importer.add_argument("csv", type=Path, help="lines of name,role[,members; separated]")
    importer.add_argument(
        "--keys",
        type=Path,
        required=True,
        help="where to write each team's key (CSV, readable by you only)",
    )
    assign = actions.add_parser("assign-roles", help="fix the roles of self-registered teams")
    assign.add_argument("roles", nargs="*", help="roles given in turn; none: teams choose")
    log = actions.add_parser("actions", help="the organiser's recorded actions")
    log.add_argument("--limit", type=int, default=100, help="the latest this many (100)")
    admin.set_defaults(run=run)


def call_for(args: argparse.Namespace) -> Call:
    """The request a command makes."""
    action = args.action
    if action in ("start", "pause", "resume", "stop", "new-round", "reset"):
        return "POST", f"/admin/{action}", None
    if action in ("open-registration", "close-registration"):
        return "POST", f"/admin/registration/{action.removesuffix('-registration')}", None
    if action in ("status", "teams"):
        return "GET", f"/admin/{action}", None
    if action == "speed":
        return "POST", "/admin/clock", {"speed": args.speed}
    if action == "news":
        return "POST", "/admin/news", {"headline": args.headline}
    if action in ("halt", "unhalt"):
        verb = "halt" if action == "halt" else "resume"
        return "POST", f"/admin/instruments/{quote(args.instrument_id, safe='')}/{verb}", None
    if action in ("disable", "enable", "reissue-key"):
        return "POST", f"/admin/teams/{quote(args.team_id, safe='')}/{action}", None
    if action == "import-teams":
        return "POST", "/admin/teams/import", {"teams": read_teams(args.csv)}
    if action == "assign-roles":
        return "POST", "/admin/registration/assign", {"roles": args.roles}
    return "GET", f"/admin/actions?limit={args.limit}", None


def run(args: argparse.Namespace) -> int:
    import httpx

    token = args.token or os.environ.get(ADMIN_TOKEN_ENV)
    if not token:
        print(f"exchange admin: no token; pass --token or set {ADMIN_TOKEN_ENV}", file=sys.stderr)
        return 2
    if action_writes_keys(args) and args.keys.exists():
        print(f"exchange admin: {args.keys} exists; not overwriting keys", file=sys.stderr)
        return 2
    try:
        method, path, body = call_for(args)
    except (OSError, ValueError) as exc:
        print(f"exchange admin: {exc}", file=sys.stderr)
        return 2
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=args.url, timeout=args.timeout) as client:
            reply = client.request(method, path, json=body, headers=headers)
    except httpx.HTTPError as exc:
        print(f"exchange admin: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 2
    return show(reply.status_code, reply.text, args.action, getattr(args, "keys", None))


def action_writes_keys(args: argparse.Namespace) -> bool:
    return bool(args.action == "import-teams")


ROLES = ("market_maker", "hedge_fund", "arbitrage", "retail")


def read_teams(path: Path) -> list[dict[str, Any]]:
    """The teams of an organiser's CSV: `name,role[,members]`, members separated by `;`;
    a first line `name,role,...` is a header. A bad line is a ValueError naming it."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        lines = list(csv.reader(f))
    teams = []
    for number, line in enumerate(lines, 1):
        cells = [c.strip() for c in line]
        if not any(cells) or (number == 1 and cells[0].lower() in ("name", "team_name")):
            continue
        if len(cells) < 2 or len(cells) > 3:
            raise ValueError(f"{path}:{number}: expected name,role[,members]")
        name, role = cells[0], cells[1].lower()
        if role not in ROLES:
            raise ValueError(f"{path}:{number}: role {cells[1]!r} is not one of {ROLES}")
        members = [m.strip() for m in cells[2].split(";") if m.strip()] if len(cells) > 2 else []
        teams.append({"team_name": name, "role": role, "members": members})
    if not teams:
        raise ValueError(f"{path}: no teams")
    return teams


def write_keys(path: Path, issued: list[dict[str, Any]]) -> None:
    """The keys file the organiser hands out: created readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["team_id", "team_name", "role", "api_key", "members"])
        for team in issued:
            row = [team["team_id"], team["team_name"], team["role"], team["api_key"]]
            out.writerow([*row, ";".join(team.get("members", []))])


def show(status: int, text: str, action: str, keys: Path | None = None) -> int:
    """Print an answer; 0 for a success, 1 for a refusal (its code on standard error)."""
    import json

    try:
        envelope = json.loads(text)
        success, data, error = envelope["success"], envelope["data"], envelope["error"]
    except (ValueError, TypeError, KeyError):
        print(f"exchange admin: unexpected answer ({status}): {text[:200]}", file=sys.stderr)
        return 1
    if not success:
        print(f"error {error['code']} ({status}): {error['message']}", file=sys.stderr)
        return 1
    if action == "import-teams" and keys is not None:
        write_keys(keys, data)
        print(table(data, ("team_id", "team_name", "role")))
        print(f"{len(data)} teams imported; their keys are in {keys}")
    elif action == "teams":
        print(table(data, TEAM_COLUMNS))
    elif action == "actions":
        print(table(data, ACTION_COLUMNS))
    else:
        for key, value in data.items():
            print(f"{key}: {cell(value)}")
    return 0


TEAM_COLUMNS = ("team_id", "name", "role", "disabled", "connections", "open_orders",
                "positions", "cash", "total_pnl")  # fmt: skip
ACTION_COLUMNS = ("game_time", "wall_time", "action", "arguments", "outcome")


def table(records: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Records as aligned columns under a header (numbers right-aligned)."""
    if not records:
        return "(none)"
    cells = [[cell(r.get(c)) for c in columns] for r in records]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    numeric = [all(_number(r.get(c)) for r in records) for c in columns]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric,
                                                                     strict=True)]  # fmt: skip
        return "  ".join(parts).rstrip()

    return "\n".join([line(columns), *(line(row) for row in cells)])


def cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(cell(v) for v in value) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={cell(v)}" for k, v in value.items()) or "-"
    return "-" if value is None else str(value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
