"""Naming a strategy in a scenario or on the command line: `module:Class`, with keyword
parameters either from the scenario (`params:`) or written as a call,
`bots.market_maker:MarketMaker(levels=3, width=0.05)`, for `replay --swap`."""

from __future__ import annotations

import ast
import importlib
import os
import sys
from collections.abc import Mapping
from typing import Any

from exchange.domain.strategy import TradingStrategy

REQUIRED = ("on_start", "on_market", "on_fill", "on_phase", "on_news", "on_signal")


def parse_spec(text: str) -> tuple[str, dict[str, Any]]:
    """`module:Class(k=v, ...)` -> ("module:Class", {k: v}); values are Python literals."""
    text = text.strip()
    if "(" not in text:
        return text, {}
    target, _, rest = text.partition("(")
    try:
        call = ast.parse(f"f({rest}", mode="eval").body
    except SyntaxError:
        raise ValueError(f"cannot read the parameters of {text!r}") from None
    assert isinstance(call, ast.Call)
    if call.args:
        raise ValueError(f"{text!r}: parameters must be named (k=v)")
    try:
        params = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}
    except ValueError:
        raise ValueError(f"{text!r}: parameter values must be literals") from None
    return target.strip(), params


def build_strategy(target: str, params: Mapping[str, Any]) -> TradingStrategy:
    """Import `module:Class` and make one with `params`; ValueError says what went wrong."""
    module_name, _, class_name = target.partition(":")
    if not module_name or not class_name:
        raise ValueError(f"a strategy is named module:Class, not {target!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`: bots/ beside the scenario
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import {module_name!r}: {exc}") from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise ValueError(f"{module_name} has no {class_name}")
    try:
        strategy = cls(**params)
    except TypeError as exc:
        raise ValueError(f"{target}: {exc}") from None
    missing = [m for m in REQUIRED if not callable(getattr(strategy, m, None))]
    if missing:
        raise ValueError(f"{target} is not a TradingStrategy: it lacks {', '.join(missing)}")
    return strategy  # type: ignore[no-any-return]


def parse_swap(text: str) -> tuple[str, str, dict[str, Any]]:
    """`TEAM=module:Class(k=v)` -> (team, target, params)."""
    team, sep, spec = text.partition("=")
    if not sep or not team.strip() or not spec.strip():
        raise ValueError(f"--swap wants TEAM=module:Class, not {text!r}")
    target, params = parse_spec(spec)
    return team.strip(), target, params
