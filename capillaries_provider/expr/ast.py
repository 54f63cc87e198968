"""AST of the Go expression subset; every node keeps its source span so errors can point at it.

Nodes are immutable and hashable. `pos` is the 0-based offset of the first character, `end` is one past the last;
`src` is the whole expression text (shared by all nodes of a tree) so that any later error can quote it.
"""

from __future__ import annotations

import decimal
import enum
from collections.abc import Container
from dataclasses import dataclass, field


class LitKind(enum.Enum):
    """Go basic literal kinds; only INT, FLOAT and STRING are evaluable, the others exist to report them."""

    INT = "INT"
    FLOAT = "FLOAT"
    STRING = "STRING"
    IMAG = "IMAG"
    CHAR = "CHAR"


@dataclass(frozen=True, slots=True)
class Literal:
    """A basic literal. `text` is the exact source text (quotes included), `value` the Go evaluator's value.

    `value` is None when Go's evaluator would reject the literal (hex/octal/binary/underscore ints, imaginary,
    char literals); the checker reports those.
    """

    pos: int
    end: int
    kind: LitKind
    text: str
    value: int | float | decimal.Decimal | str | None
    src: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Ident:
    """A bare identifier: `true`, `false`, an alias (left of a selector) or a function name."""

    pos: int
    end: int
    name: str
    src: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Selector:
    """`x.name`: a field reference `alias.field`, a package constant `time.UTC` or a callee `pkg.f`."""

    pos: int
    end: int
    x: Expr
    name: str
    name_pos: int
    src: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Call:
    """`func(args...)`; `func` is an Ident or a Selector."""

    pos: int
    end: int
    func: Expr
    args: tuple[Expr, ...]
    src: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Unary:
    """`!x` or `-x` (the only unary operators Capillaries evaluates)."""

    pos: int
    end: int
    op: str
    x: Expr
    src: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Binary:
    """`x op y`; `op_pos` is where the operator token starts (used by error carets)."""

    pos: int
    end: int
    op: str
    op_pos: int
    x: Expr
    y: Expr
    src: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Paren:
    """`(x)`, kept so that spans and re-printing stay faithful to the source."""

    pos: int
    end: int
    x: Expr
    src: str = field(default="", compare=False, repr=False)


Expr = Literal | Ident | Selector | Call | Unary | Binary | Paren


def unparen(node: Expr) -> Expr:
    """The node with any enclosing parentheses removed."""
    while isinstance(node, Paren):
        node = node.x
    return node


def callee_name(node: Call) -> str | None:
    """`f` or `pkg.f` for a call whose callee is a plain or package-qualified name, else None."""
    func = node.func
    if isinstance(func, Ident):
        return func.name
    if isinstance(func, Selector) and isinstance(func.x, Ident):
        return f"{func.x.name}.{func.name}"
    return None


def children(node: Expr) -> tuple[Expr, ...]:
    """Direct sub-expressions in source order."""
    if isinstance(node, Selector):
        return (node.x,)
    if isinstance(node, Call):
        return (node.func, *node.args)
    if isinstance(node, Unary | Paren):
        return (node.x,)
    if isinstance(node, Binary):
        return (node.x, node.y)
    return ()


def left_chain(node: Expr, done: Container[int]) -> list[Binary]:
    """`node` and its left operands while they are Binary nodes not in `done` (by `id`), outermost first.

    The parser builds a flat chain (`a + b + c ...`) left-deep; the checker and the compiler take such a chain
    bottom-up in a loop, so that the length of a flat expression never becomes recursion depth.
    """
    chain: list[Binary] = []
    while isinstance(node, Binary) and id(node) not in done:
        chain.append(node)
        node = node.x
    return chain


def walk(node: Expr) -> list[Expr]:
    """All nodes of the tree, pre-order."""
    out: list[Expr] = []
    stack = [node]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(reversed(children(n)))
    return out


# Package names of built-in constants and functions; selectors on them are not field references.
PACKAGES = frozenset({"time", "math", "fmt", "strings", "re", "wfmodel", "int", "float", "decimal2", "string"})


def field_refs(node: Expr) -> set[tuple[str, str]]:
    """Every `alias.field` reference in the expression, as (alias, field) pairs.

    Callees (`pkg.f(...)`) and package constants (`time.UTC`, `wfmodel.RunStart`) are not field references.
    """
    refs: set[tuple[str, str]] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Selector) and isinstance(n.x, Ident):
            if n.x.name not in PACKAGES:
                refs.add((n.x.name, n.name))
        elif isinstance(n, Call):
            stack.extend(n.args)
            if not isinstance(n.func, Ident | Selector):
                stack.append(n.func)
        else:
            stack.extend(children(n))
    return refs
