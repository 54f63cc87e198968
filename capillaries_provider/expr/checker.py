"""Static type checker: gives every node the Go runtime type Capillaries' evaluator would produce.

Go Capillaries finds type errors by test-evaluating each expression with dummy values at load time; a static pass
finds the same errors (types never depend on values) before any data is touched, and the compiler uses the
inferred types to emit type-specialised code.
"""

from __future__ import annotations

import decimal
import enum
from collections.abc import Mapping
from dataclasses import dataclass

from capillaries_provider.expr.ast import (
    Binary,
    Call,
    Expr,
    Ident,
    Literal,
    LitKind,
    Paren,
    Selector,
    Unary,
    callee_name,
    left_chain,
)
from capillaries_provider.expr.errors import ExprTypeError
from capillaries_provider.expr.types import FieldType


class ExprType(enum.Enum):
    """A Capillaries field type plus the Go-only types an expression can produce on the way.

    GO_INT is Go's `int` returned by `len()`: usable in arithmetic and comparisons, but not a valid field value
    (spec 2.5 quirk). MONTH (`time.January`...) and LOCATION (`time.UTC`, `time.FixedZone`) only feed `time.Date`.
    """

    INT = "int"
    FLOAT = "float"
    DECIMAL2 = "decimal2"
    STRING = "string"
    BOOL = "bool"
    DATETIME = "datetime"
    GO_INT = "int (Go int)"
    MONTH = "time.Month"
    LOCATION = "*time.Location"

    @classmethod
    def of(cls, ft: FieldType) -> ExprType:
        """The expression type of a field of type `ft`."""
        return cls(ft.value)

    @property
    def field_type(self) -> FieldType | None:
        """The field type a value of this type can be stored as, or None (Go int, month, location)."""
        return _FIELD_TYPES.get(self)

    def matches(self, ft: FieldType) -> bool:
        """True if an expression of this type may be the expression of a field declared as `ft`."""
        return self.field_type is ft

    @property
    def is_numeric(self) -> bool:
        return self in _NUMERIC


_FIELD_TYPES = {t: FieldType(t.value) for t in ExprType if t.value in {f.value for f in FieldType}}
_NUMERIC = frozenset({ExprType.INT, ExprType.GO_INT, ExprType.FLOAT, ExprType.DECIMAL2})
_VALUES = frozenset(_FIELD_TYPES) | {ExprType.GO_INT}
_CONVERTIBLE = _NUMERIC | {ExprType.STRING, ExprType.BOOL}

MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
# Spec 1.11: constants usable in dependency-policy rules.
WFMODEL_CONSTANTS: Mapping[str, int] = {
    "RunNone": 0,
    "RunStart": 1,
    "RunComplete": 2,
    "RunStop": 3,
    "NodeBatchNone": 0,
    "NodeBatchStart": 1,
    "NodeBatchSuccess": 2,
    "NodeBatchFail": 3,
    "NodeBatchRunStopReceived": 104,
}

AGGREGATES = frozenset(
    [
        "sum",
        "count",
        "avg",
        "min",
        "max",
        "string_agg",
        "sum_if",
        "count_if",
        "avg_if",
        "min_if",
        "max_if",
        "string_agg_if",
    ]
)

ARITHMETIC_OPS = frozenset("+-*/%")
COMPARISON_OPS = frozenset({"==", "!=", "<", "<=", ">", ">="})

Env = Mapping[str, Mapping[str, FieldType]]

T = ExprType
# name -> (parameter type sets, result type); `None` parameter set = any value type.
_SIGNATURES: dict[str, tuple[tuple[frozenset[ExprType] | None, ...], ExprType]] = {
    "len": ((frozenset({T.STRING}),), T.GO_INT),
    "string": ((None,), T.STRING),
    "int": ((_CONVERTIBLE,), T.INT),
    "float": ((_CONVERTIBLE,), T.FLOAT),
    "decimal2": ((_CONVERTIBLE,), T.DECIMAL2),
    "int.iif": ((frozenset({T.BOOL}), frozenset({T.INT}), frozenset({T.INT})), T.INT),
    "float.iif": ((frozenset({T.BOOL}), frozenset({T.FLOAT}), frozenset({T.FLOAT})), T.FLOAT),
    "decimal2.iif": ((frozenset({T.BOOL}), frozenset({T.DECIMAL2}), frozenset({T.DECIMAL2})), T.DECIMAL2),
    "string.iif": ((frozenset({T.BOOL}), frozenset({T.STRING}), frozenset({T.STRING})), T.STRING),
    "time.iif": ((frozenset({T.BOOL}), frozenset({T.DATETIME}), frozenset({T.DATETIME})), T.DATETIME),
    "math.Sqrt": ((_NUMERIC,), T.FLOAT),
    "math.Round": ((_NUMERIC,), T.FLOAT),
    "time.Parse": ((frozenset({T.STRING}), frozenset({T.STRING})), T.DATETIME),
    "time.Format": ((frozenset({T.DATETIME}), frozenset({T.STRING})), T.STRING),
    "time.Date": (
        (
            frozenset({T.INT}),
            frozenset({T.MONTH}),
            *(frozenset({T.INT}),) * 5,
            frozenset({T.LOCATION}),
        ),
        T.DATETIME,
    ),
    "time.Now": ((), T.DATETIME),
    "time.Unix": ((frozenset({T.DATETIME}),), T.INT),
    "time.UnixMilli": ((frozenset({T.DATETIME}),), T.INT),
    "time.DiffMilli": ((frozenset({T.DATETIME}), frozenset({T.DATETIME})), T.INT),
    "time.Before": ((frozenset({T.DATETIME}), frozenset({T.DATETIME})), T.BOOL),
    "time.After": ((frozenset({T.DATETIME}), frozenset({T.DATETIME})), T.BOOL),
    "time.FixedZone": ((frozenset({T.STRING}), frozenset({T.INT})), T.LOCATION),
    "re.MatchString": ((frozenset({T.STRING}), frozenset({T.STRING})), T.BOOL),
    "strings.ReplaceAll": ((frozenset({T.STRING}),) * 3, T.STRING),
}
_SUMMABLE = frozenset({T.INT, T.FLOAT, T.DECIMAL2})
_ORDERED = _SUMMABLE | {T.STRING}


@dataclass(frozen=True)
class Options:
    """What the evaluation context allows (spec 1.12, 2.6)."""

    allow_aggregates: bool = False
    allow_plain_idents: bool = False
    allow_wfmodel: bool = False


def _names(types: frozenset[ExprType] | None) -> str:
    if types is None:
        return "any value"
    return " or ".join(sorted(t.value for t in types))


class _Checker:
    def __init__(self, env: Env, opts: Options) -> None:
        self.env = env
        self.opts = opts
        self.types: dict[int, ExprType] = {}

    def fail(self, message: str, node: Expr, pos: int | None = None) -> ExprTypeError:
        return ExprTypeError(message, node.src, node.pos if pos is None else pos)

    def visit(self, node: Expr, is_root: bool = False) -> ExprType:
        known = self.types.get(id(node))
        if known is not None:
            return known
        if isinstance(node, Binary):
            for inner in reversed(left_chain(node.x, self.types)):
                self.visit(inner)
        t = self._visit(node, is_root)
        self.types[id(node)] = t
        return t

    def _visit(self, node: Expr, is_root: bool) -> ExprType:
        if isinstance(node, Literal):
            return self.literal(node)
        if isinstance(node, Ident):
            return self.ident(node)
        if isinstance(node, Selector):
            return self.selector(node)
        if isinstance(node, Paren):
            return self.visit(node.x)
        if isinstance(node, Unary):
            return self.unary(node)
        if isinstance(node, Binary):
            return self.binary(node)
        return self.call(node, is_root)

    def literal(self, node: Literal) -> ExprType:
        if node.kind is LitKind.INT:
            if node.value is None:
                raise self.fail(f"cannot evaluate integer literal {node.text}: only plain base-10 integers", node)
            return T.DECIMAL2 if isinstance(node.value, decimal.Decimal) else T.INT
        if node.kind is LitKind.FLOAT and node.value is not None:
            return T.FLOAT
        if node.kind is LitKind.STRING:
            return T.STRING
        raise self.fail(f"cannot evaluate literal {node.text}", node)

    def ident(self, node: Ident) -> ExprType:
        if node.name in ("true", "false"):
            return T.BOOL
        if not self.opts.allow_plain_idents:
            raise self.fail(f"plain identifier {node.name} is not allowed, use alias.field", node)
        ft = self.env.get("", {}).get(node.name)
        if ft is None:
            raise self.fail(f"unknown field {node.name}", node)
        return ExprType.of(ft)

    def selector(self, node: Selector) -> ExprType:
        if not isinstance(node.x, Ident):
            raise self.fail(f"cannot evaluate selector .{node.name} on a non-identifier", node, node.name_pos)
        pkg, name = node.x.name, node.name
        if pkg == "time" and name in MONTHS:
            return T.MONTH
        if pkg == "time" and name == "UTC":
            return T.LOCATION
        if pkg == "wfmodel" and self.opts.allow_wfmodel:
            if name not in WFMODEL_CONSTANTS:
                raise self.fail(f"unknown constant wfmodel.{name}", node)
            return T.INT
        fields = self.env.get(pkg)
        ft = None if fields is None else fields.get(name)
        if ft is None:
            raise self.fail(f"unknown field {pkg}.{name}", node)
        return ExprType.of(ft)

    def unary(self, node: Unary) -> ExprType:
        t = self.visit(node.x)
        if node.op == "!":
            if t is not T.BOOL:
                raise self.fail(f"cannot evaluate !: operand must be bool, got {t.value}", node)
            return t
        if not t.is_numeric:
            raise self.fail(f"cannot evaluate unary -: operand must be a number, got {t.value}", node)
        return T.INT if t is T.GO_INT else t

    def binary(self, node: Binary) -> ExprType:
        tx = self.visit(node.x)
        ty = self.visit(node.y)
        op = node.op
        mismatch = f"cannot evaluate {op} on {tx.value} and {ty.value}"
        if op in ("&&", "||"):
            if tx is not T.BOOL or ty is not T.BOOL:
                raise self.fail(f"{mismatch}: both operands must be bool", node, node.op_pos)
            return T.BOOL
        if op in COMPARISON_OPS:
            same = tx is ty and tx in (T.STRING, T.DATETIME, T.BOOL)
            if not ((tx.is_numeric and ty.is_numeric) or same):
                raise self.fail(mismatch, node, node.op_pos)
            if tx is T.BOOL and op not in ("==", "!="):
                raise self.fail(f"cannot evaluate {op} on bool values, only == and !=", node, node.op_pos)
            return T.BOOL
        if tx is T.STRING:
            if op != "+" or ty is not T.STRING:
                raise self.fail(f"{mismatch}: strings support only + with a string", node, node.op_pos)
            return T.STRING
        if not (tx.is_numeric and ty.is_numeric):
            raise self.fail(mismatch, node, node.op_pos)
        result = promote(tx, ty)
        if op == "%" and result is not T.INT:
            raise self.fail(f"cannot evaluate % on {result.value} values, only on int", node, node.op_pos)
        return result

    def call(self, node: Call, is_root: bool) -> ExprType:
        name = callee_name(node)
        if name is None:
            raise self.fail("cannot evaluate a call of a non-function", node)
        if name in AGGREGATES:
            return self.aggregate(node, name, is_root)
        if name == "fmt.Sprintf":
            if len(node.args) < 2:
                raise self.fail(f"cannot evaluate {name}(), requires at least 2 args, {len(node.args)} supplied", node)
            params: tuple[frozenset[ExprType] | None, ...] = (frozenset({T.STRING}),) + (None,) * (len(node.args) - 1)
            result = T.STRING
        elif name in _SIGNATURES:
            params, result = _SIGNATURES[name]
        else:
            raise self.fail(f"cannot evaluate unknown function {name}()", node)
        self.args(node, name, params)
        return result

    def args(self, node: Call, name: str, params: tuple[frozenset[ExprType] | None, ...]) -> None:
        if len(node.args) != len(params):
            raise self.fail(f"cannot evaluate {name}(), requires {len(params)} args, {len(node.args)} supplied", node)
        for i, (arg, allowed) in enumerate(zip(node.args, params, strict=True)):
            t = self.visit(arg)
            if (allowed is None and t not in _VALUES) or (allowed is not None and t not in allowed):
                raise self.fail(
                    f"cannot evaluate {name}(): argument {i + 1} must be {_names(allowed)}, got {t.value}", arg
                )

    def aggregate(self, node: Call, name: str, is_root: bool) -> ExprType:
        if not self.opts.allow_aggregates:
            raise self.fail(f"aggregate function {name}() is not allowed here", node)
        if not is_root:
            raise self.fail(f"aggregate function {name}() must be the whole expression, not part of it", node)
        base = name.removesuffix("_if")
        params: list[frozenset[ExprType] | None] = []
        if base in ("sum", "avg"):
            params.append(_SUMMABLE | {T.GO_INT})
        elif base in ("min", "max"):
            params.append(_ORDERED | {T.GO_INT})
        elif base == "string_agg":
            params += [frozenset({T.STRING}), frozenset({T.STRING})]
        if name.endswith("_if"):
            params.append(frozenset({T.BOOL}))
        for arg in node.args:
            inner = _first_aggregate(arg)
            if inner is not None:
                raise self.fail(f"aggregate function {callee_name(inner)}() cannot be nested in {name}()", inner)
        self.args(node, name, tuple(params))
        if base == "string_agg":
            sep = node.args[1]
            if not (isinstance(sep, Literal) and sep.kind is LitKind.STRING and sep.text.startswith('"')):
                raise self.fail(f"{name}() separator must be a double-quoted string literal", sep)
            return T.STRING
        if base == "count":
            return T.INT
        t = self.types[id(node.args[0])]
        return T.INT if t is T.GO_INT else t


def _first_aggregate(node: Expr) -> Call | None:
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Call) and callee_name(n) in AGGREGATES:
            return n
        if isinstance(n, Call):
            stack.extend(n.args)
        elif isinstance(n, Selector | Unary | Paren):
            stack.append(n.x)
        elif isinstance(n, Binary):
            stack += [n.x, n.y]
    return None


def promote(tx: ExprType, ty: ExprType) -> ExprType:
    """Go Capillaries' numeric promotion: float64 if either is float, else decimal if either is, else int64."""
    if T.FLOAT in (tx, ty):
        return T.FLOAT
    if T.DECIMAL2 in (tx, ty):
        return T.DECIMAL2
    return T.INT


def infer(node: Expr, env: Env, opts: Options) -> tuple[ExprType, dict[int, ExprType]]:
    """Type of `node` and of every sub-node (keyed by `id()`); raises ExprTypeError."""
    checker = _Checker(env, opts)
    return checker.visit(node, is_root=True), checker.types


def check(
    node: Expr,
    env: Env,
    *,
    allow_aggregates: bool = False,
    allow_plain_idents: bool = False,
    allow_wfmodel: bool = False,
) -> ExprType:
    """Type of the expression's value; ExprTypeError names the field, operator or function at fault.

    `env` maps alias -> field -> type (aliases `r`, `l`, `p`, `w`, `nrs`, ...). With `allow_plain_idents`, bare
    identifiers other than true/false are looked up under the alias "". Aggregates are accepted only as the root.
    """
    opts = Options(allow_aggregates, allow_plain_idents, allow_wfmodel)
    return infer(node, env, opts)[0]
