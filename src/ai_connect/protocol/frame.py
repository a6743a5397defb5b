"""What every frame shares: the base model, request ids, the ``context`` field, the tables.

A frame is a frozen, strict pydantic model; unknown fields are ignored, so that a newer
peer's extra fields do not break an older one (docs/protocol.md §1).
"""

from __future__ import annotations

import typing
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ai_connect.protocol.limits import MAX_CONTEXT_DEPTH

__all__ = ["Context", "Frame", "Rid", "depth_ok", "frame_table"]

Rid = Annotated[str, Field(min_length=1, max_length=64)] | int


def depth_ok(value: Any, limit: int) -> bool:
    """Whether ``value`` nests at most ``limit`` levels of objects and arrays (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return True


def _context_ok(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None and not depth_ok(value, MAX_CONTEXT_DEPTH):
        raise ValueError(f"context must nest at most {MAX_CONTEXT_DEPTH} levels")
    return value


Context = Annotated[dict[str, Any] | None, AfterValidator(_context_ok)]
"""Free JSON attached to a message or a proposal, nested at most ``MAX_CONTEXT_DEPTH``."""


class Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, strict=True)


def frame_table(union: Any) -> dict[str, type[Frame]]:
    """``type`` -> model of every frame in ``union``: the decoder's table, derived from the
    union so that a frame is listed once."""
    models: tuple[type[Frame], ...] = typing.get_args(union)
    table = {model.model_fields["type"].default: model for model in models}
    if len(table) != len(models):
        raise TypeError(f"two frames of {union} share a type")
    return table
