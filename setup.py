"""The one build step pyproject.toml cannot declare: the wheel carries the dashboard's
charting library.

uPlot comes from `npm ci` (package.json, package-lock.json) and is never committed. A
wheel built here copies its browser build from `node_modules/uplot/dist` (or
`$EXCHANGE_NODE_MODULES/uplot/dist`) into the package, as `exchange/web/static/vendor/`,
so a pip-installed server draws its charts; the build fails, saying so, when `npm ci`
has not been run. An editable install (`pip install -e .`) copies nothing: the dev
server serves the library from node_modules itself.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.errors import FileError

HERE = Path(__file__).resolve().parent
UPLOT_FILES = ("uPlot.iife.min.js", "uPlot.min.css")
VENDOR = ("exchange", "web", "static", "vendor")


def uplot_dist() -> Path:
    configured = os.environ.get("EXCHANGE_NODE_MODULES")
    return (Path(configured) if configured else HERE / "node_modules") / "uplot" / "dist"


class BuildWithUplot(build_py):
    """`build_py`, then uPlot's browser files into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        source = uplot_dist()
        missing = [name for name in UPLOT_FILES if not (source / name).is_file()]
        if missing:
            raise FileError(
                f"the dashboard's charting library is missing ({', '.join(missing)} in "
                f"{source}): run `npm ci --no-audit --no-fund` at the repository first"
            )
        target = Path(self.build_lib, *VENDOR)
        target.mkdir(parents=True, exist_ok=True)
        for name in UPLOT_FILES:
            shutil.copyfile(source / name, target / name)


setup(cmdclass={"build_py": BuildWithUplot})
