"""The constraint-based order validator (SPEC section 5).

How this works: each role has an ordered list of constraint configs (data, loaded from
the config file by `load_constraints`). At construction every config is compiled once
into a check (`constraint_checks`), a closure over its limits. `validate` runs the
role's checks in order and returns the first rejection, so the first failing
constraint is the one reported; nothing is changed either way. This module is the one
import for callers: it re-exports the configs, the context and the rejection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from exchange.domain.constraint_checks import compile_constraint
from exchange.domain.constraint_config import (
    Constraint,
    ConstraintConfig,
    InstrumentAllowed,
    NoTwoSided,
    OrderRate,
    OrderSize,
    OrderTypeAllowed,
    PortfolioLimit,
    PositionLimit,
    PriceRange,
    QuoteShape,
    TradingWindow,
    load_constraints,
)
from exchange.domain.types import Role
from exchange.domain.validation import (
    Check,
    OrderRefusal,
    OrderValidator,
    ValidationContext,
    order_type_of,
)

__all__ = [
    "Check",
    "Constraint",
    "ConstraintBasedOrderValidator",
    "ConstraintConfig",
    "InstrumentAllowed",
    "NoTwoSided",
    "OrderRate",
    "OrderRefusal",
    "OrderSize",
    "OrderTypeAllowed",
    "OrderValidator",
    "PortfolioLimit",
    "PositionLimit",
    "PriceRange",
    "QuoteShape",
    "TradingWindow",
    "ValidationContext",
    "compile_constraint",
    "load_constraints",
    "order_type_of",
    "validator_from_yaml",
]


class ConstraintBasedOrderValidator:
    """Role-agnostic: runs the context's role's constraints in configured order.

    A role without an entry (the house) accepts everything.
    """

    __slots__ = ("_checks",)

    def __init__(self, constraints_by_role: Mapping[Role, Sequence[ConstraintConfig]]) -> None:
        self._checks: dict[Role, tuple[Check, ...]] = {
            role: tuple(compile_constraint(c) for c in configs)
            for role, configs in constraints_by_role.items()
        }

    def validate(self, ctx: ValidationContext) -> OrderRefusal | None:
        """The first failing constraint's rejection, or None if the order is accepted."""
        for check in self._checks.get(ctx.role, ()):
            rejection = check(ctx)
            if rejection is not None:
                return rejection
        return None


def validator_from_yaml(data: bytes | str) -> ConstraintBasedOrderValidator:
    """A validator for the roles in a YAML document (see `load_constraints`)."""
    return ConstraintBasedOrderValidator(load_constraints(data))
