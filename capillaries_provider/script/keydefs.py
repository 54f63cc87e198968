"""Index definitions and order expressions (spec 1.7), parsed with the Go expression grammar.

`unique(a, b(desc, ignore_case, 32))` / `non_unique(...)` for indexes; `a(desc), b` for `w.top.order` and
`event_priority_order`. Each component names a field of a known type; modifiers are `asc|desc`,
`case_sensitive|ignore_case` and an integer string length (strings only; <16 -> 16, >1024 -> error).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from capillaries_provider.expr.ast import Call, Expr, Ident, Literal, LitKind, unparen
from capillaries_provider.expr.errors import ExprError
from capillaries_provider.expr.keys import KeyComponent
from capillaries_provider.expr.parser import parse, parse_list
from capillaries_provider.expr.types import FieldType
from capillaries_provider.script.errors import caret_detail

DEFAULT_STRING_LEN = 64
MIN_STRING_LEN = 16
MAX_STRING_LEN = 1024


class KeyDefError(Exception):
    """A bad index definition or order expression; `detail` is the text with a caret under the fault."""

    def __init__(self, message: str, text: str = "", pos: int = 0, unknown_field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.unknown_field = unknown_field
        self.detail = caret_detail(text, pos) if text else None


def parse_index_def(text: str, fields: Mapping[str, FieldType]) -> tuple[bool, tuple[KeyComponent, ...]]:
    """(unique, components) of `unique(...)` / `non_unique(...)` over the table's `fields`."""
    try:
        node = unparen(parse(text))
    except ExprError as e:
        raise KeyDefError(f"cannot parse index definition: {e.message}", text, e.pos) from e
    if not (isinstance(node, Call) and isinstance(node.func, Ident) and node.func.name in ("unique", "non_unique")):
        raise KeyDefError("index definition must be unique(...) or non_unique(...)", text, node.pos)
    if not node.args:
        raise KeyDefError("index definition needs at least one field", text, node.end - 1)
    return node.func.name == "unique", _components(node.args, fields, text)


def parse_order(text: str, fields: Mapping[str, FieldType]) -> tuple[KeyComponent, ...]:
    """Components of an order expression `a(desc), b` over `fields`."""
    try:
        items = parse_list(text)
    except ExprError as e:
        raise KeyDefError(f"cannot parse order expression: {e.message}", text, e.pos) from e
    return _components(items, fields, text)


def _components(items: Sequence[Expr], fields: Mapping[str, FieldType], text: str) -> tuple[KeyComponent, ...]:
    return tuple(_component(unparen(item), fields, text) for item in items)


def _component(item: Expr, fields: Mapping[str, FieldType], text: str) -> KeyComponent:
    mods: tuple[Expr, ...] = ()
    if isinstance(item, Call) and isinstance(item.func, Ident):
        name_node: Expr = item.func
        mods = item.args
    elif isinstance(item, Ident):
        name_node = item
    else:
        raise KeyDefError("expected a field name or field(modifiers...)", text, item.pos)
    assert isinstance(name_node, Ident)
    name = name_node.name
    ftype = fields.get(name)
    if ftype is None:
        known = ", ".join(fields) or "none"
        raise KeyDefError(f"unknown field {name} (known fields: {known})", text, name_node.pos, unknown_field=name)
    desc = False
    ignore_case = False
    length: int | None = None
    for mod in mods:
        mod = unparen(mod)
        if isinstance(mod, Ident) and mod.name in ("asc", "desc"):
            desc = mod.name == "desc"
        elif isinstance(mod, Ident) and mod.name in ("case_sensitive", "ignore_case"):
            if ftype is not FieldType.STRING:
                raise KeyDefError(f"{mod.name} applies only to string fields, {name} is {ftype.value}", text, mod.pos)
            ignore_case = mod.name == "ignore_case"
        elif isinstance(mod, Literal) and mod.kind is LitKind.INT and isinstance(mod.value, int):
            if ftype is not FieldType.STRING:
                raise KeyDefError(f"a length applies only to string fields, {name} is {ftype.value}", text, mod.pos)
            if mod.value > MAX_STRING_LEN:
                raise KeyDefError(f"string length {mod.value} exceeds {MAX_STRING_LEN}", text, mod.pos)
            length = max(mod.value, MIN_STRING_LEN)
        else:
            raise KeyDefError(
                "unknown modifier: expected asc, desc, case_sensitive, ignore_case or a string length", text, mod.pos
            )
    return KeyComponent(name, ftype, desc=desc, ignore_case=ignore_case, str_len=length or DEFAULT_STRING_LEN)
