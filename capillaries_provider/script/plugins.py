"""Third-party custom processor types for `table_custom_tfm_table` nodes (spec 7), found by entry point.

Go compiles its processors into each binary through a `CustomProcessorDefFactory`; here any installed package can
add one by declaring, in its pyproject.toml,

    [project.entry-points."capillaries.processors"]
    my_type = "my_package.module:PROCESSOR"

where `PROCESSOR` implements `CustomProcessorType` and `PROCESSOR.name == "my_type"`. The loader validates a node's
`p` through `parse` (so `capillaries validate` checks it), and the worker calls `process` for each page of rows, the
same place py_calc and tag_and_denormalize run. An entry point is loaded only when a script names its type, so a
broken plugin cannot break scripts that do not use it.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any, Protocol

from capillaries_provider.expr.types import FieldType, Value

ENTRY_POINT_GROUP = "capillaries.processors"
BUILT_IN_TYPES = ("py_calc", "tag_and_denormalize")

Row = Mapping[str, Value]


class ProcessorSettings(Protocol):
    """What a processor type made of a node's `p`."""

    @property
    def field_types(self) -> Mapping[str, FieldType]:
        """The `p.*` fields it outputs, usable in `w.fields` expressions."""
        ...

    @property
    def reader_fields(self) -> Collection[str]:
        """The `r.*` fields it reads (besides those `w.fields` use); each must exist in the node's input table."""
        ...


class CustomProcessorType(Protocol):
    """A processor type: parses its settings at script load, turns pages of rows into `(r, p)` var maps."""

    name: str

    def parse(self, raw: Mapping[str, Any]) -> ProcessorSettings:
        """Settings from the node's `p` object; ValueError with a message naming the key (`p.pattern: ...`)."""
        ...

    def process(self, settings: Any, rows: Sequence[Row]) -> Iterable[tuple[Row, Mapping[str, Value]]]:
        """`(r, p)` per output row, none, one or several per input row; a row must not depend on other rows."""
        ...


class PluginError(Exception):
    """An entry point that cannot serve as a processor type; the message names the entry point."""


def available_types() -> list[str]:
    """Built-in types, then the installed ones by name (without importing them)."""
    return [*BUILT_IN_TYPES, *sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)} - set(BUILT_IN_TYPES))]


@functools.cache
def processor_type(name: str) -> CustomProcessorType | None:
    """The installed processor type `name` (the first entry point of that name on sys.path), or None."""
    if name in BUILT_IN_TYPES:
        return None
    found = entry_points(group=ENTRY_POINT_GROUP, name=name)
    if not found:
        return None
    ep = next(iter(found))
    where = f"entry point {ep.name} = {ep.value} (group {ENTRY_POINT_GROUP})"
    try:
        plugin = ep.load()
    except Exception as e:
        raise PluginError(f"{where}: cannot load: {type(e).__name__}: {e}") from e
    if getattr(plugin, "name", None) != name:
        raise PluginError(f"{where}: its processor's name is {getattr(plugin, 'name', None)!r}, expected {name!r}")
    missing = [m for m in ("parse", "process") if not callable(getattr(plugin, m, None))]
    if missing:
        raise PluginError(f"{where}: the processor has no {' or '.join(missing)} method")
    result: CustomProcessorType = plugin
    return result
