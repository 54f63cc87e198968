"""Short, bounded descriptions of rows for error messages (a failing row must be findable, not dumped whole)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from capillaries_provider.expr.types import Value

MAX_SHOWN_FIELDS = 4
MAX_VALUE_CHARS = 60


def short_value(v: object) -> str:
    text = repr(v)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


def describe_row(row: Mapping[str, Value], fields: Iterable[str] | None = None) -> str:
    """`{a=1, b='x', ...}`: the given fields, or the first few of the row."""
    if fields is not None:
        return "{" + ", ".join(f"{k}={short_value(row.get(k))}" for k in fields) + "}"
    items = list(row.items())
    shown = ", ".join(f"{k}={short_value(v)}" for k, v in items[:MAX_SHOWN_FIELDS])
    return "{" + shown + (", ..." if len(items) > MAX_SHOWN_FIELDS else "") + "}"
