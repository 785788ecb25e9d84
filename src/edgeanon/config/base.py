"""What every config model is built from: the strict frozen base model and the shared field types."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from edgeanon.config.errors import at_field
from edgeanon.config.names import NAME_PATTERN

Name = Annotated[
    str,
    Field(pattern=NAME_PATTERN, description="Lower-case name (a-z, 0-9, _ and -, at most 32): used as a label value."),
]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Point = tuple[FiniteFloat, FiniteFloat]  # NaN would pass every range check (all comparisons are False)


class StrictModel(BaseModel):
    # No docstring: pydantic would show it as the description of every model without one of its own.
    # Unknown keys are errors (a typo must not silently fall back to a default); a loaded config is frozen.
    model_config = ConfigDict(extra="forbid", frozen=True)


def unique_names(what: str, names: list[str], path: tuple[str | int, ...]) -> None:
    seen: set[str] = set()
    for i, n in enumerate(names):
        if n in seen:
            raise ValueError(at_field((*path, i), f"name {n!r} is used twice in {what}"))
        seen.add(n)
