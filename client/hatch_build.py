"""Builds the client from the repository's own sources, listed in pyproject.toml.

From the repository the files are read beside this folder (`../exchange/...`); the sdist
carries them inside itself, so a wheel built from an unpacked sdist reads them there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class SharedSources(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        here = Path(self.root)
        base = here if (here / "exchange" / "client").is_dir() else here.parent
        for name in self.config["sources"]:
            source = base / name
            if not source.is_file():
                raise FileNotFoundError(f"the client ships {name}, which is not at {source}")
            build_data["force_include"][str(source)] = name
