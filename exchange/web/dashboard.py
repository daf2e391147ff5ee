"""The live dashboard: static files served beside the JSON API, with no build step.

`/` is the page, `/static/...` its script and style, `/vendor/uplot/...` the charting
library's prebuilt files. Those come from `node_modules/uplot/dist`, installed by
`npm ci` from the repository's lockfile and never committed: the folder named by
`$EXCHANGE_NODE_MODULES` when set, else the one next to pyproject.toml. A wheel carries
its own copy, made when it was built (`setup.py`), in `static/vendor/`: served when there
is no node_modules, as on a pip-installed server. Both are looked up on each request,
so an `npm ci` run while the server is up takes effect at the next page load. Without
either the page still works (tables, tape, news) and says where the charts would be
that they need `npm ci`. The page reads everything from the public API and the
key-less spectator stream (`/ws`); a team's key, pasted into the page, stays in the
browser's session storage.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"
REPOSITORY = Path(__file__).resolve().parents[2]
PACKAGED = STATIC / "vendor"
"""uPlot's files as a wheel carries them (copied in when it is built; see setup.py)."""
VENDOR_FILES = frozenset({"uPlot.iife.min.js", "uPlot.iife.js", "uPlot.min.css"})
"""What `/vendor/uplot/` serves: the browser builds, nothing else from node_modules."""

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
"""Scripts, styles and connections from this server only; no inline code of any kind."""

PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

PAGES = ("/", "/vendor/uplot/{name}")
"""The dashboard's own paths: not part of the JSON API, so not in `/openapi.json`."""


def node_modules() -> Path:
    """Where `npm ci` put the packages: `$EXCHANGE_NODE_MODULES`, else the repository's."""
    configured = os.environ.get("EXCHANGE_NODE_MODULES")
    return Path(configured) if configured else REPOSITORY / "node_modules"


def vendor_file(name: str) -> Path | None:
    """A file of uPlot's browser build: node_modules' first, else the wheel's copy."""
    for folder in (node_modules() / "uplot" / "dist", PACKAGED):
        if (folder / name).is_file():
            return folder / name
    return None


def uplot_installed() -> bool:
    return vendor_file("uPlot.iife.min.js") is not None


async def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS, media_type="text/html")


async def vendor(request: Request) -> Response:
    name = str(request.path_params["name"])
    if name not in VENDOR_FILES:
        raise HTTPException(404, f"no file {name!r} here")
    path = vendor_file(name)
    if path is None:
        raise HTTPException(404, f"{name} is not installed here: run `npm ci` at the repository")
    return FileResponse(path, headers={"Cache-Control": "no-cache"})


class PageFiles(StaticFiles):
    """The page's own files, with the page's headers: `/static/index.html` is the page
    too, and must not be framed or run foreign scripts any more than `/` may."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(PAGE_HEADERS)
        return response


def routes() -> list[BaseRoute]:
    """The page, its files and the charting library, for `create_app` to serve."""
    return [
        Route("/", index, methods=["GET"]),
        Route("/vendor/uplot/{name}", vendor, methods=["GET"]),
        Mount("/static", PageFiles(directory=STATIC), name="static"),
    ]
