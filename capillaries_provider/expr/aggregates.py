"""Aggregate functions of grouped lookups (spec 2.7), with Go Capillaries' quirks kept on purpose.

One accumulator exists per (left row, field); every matching right row is fed to it with vars {r, l}. The
arguments are evaluated in a round-dec-2 context and, as in Go, all arguments are evaluated for every row (the
condition of `*_if` does not spare the value). Sentinels leak when nothing was accumulated (quirk 5), string
`min` does not skip empty values (quirk 18), `string_agg` writes the separator only once the text is non-empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from capillaries_provider.expr import builtins as bi
from capillaries_provider.expr import godecimal
from capillaries_provider.expr.ast import Call, Expr, Literal, callee_name, walk
from capillaries_provider.expr.checker import AGGREGATES, Env, ExprType, Options, infer
from capillaries_provider.expr.compiler import CompiledExpr, Vars, compile_checked
from capillaries_provider.expr.errors import ExprTypeError
from capillaries_provider.expr.types import INT64_MAX, INT64_MIN, Value, wrap_int64

T = ExprType
_MAX_FLOAT64 = 1.7976931348623157e308
_MAX_FLOAT32 = 3.4028234663852886e38
# MaxFloat32 converted to a decimal the way Go does it (shortest float32 digits).
_DEC_MIN_SENTINEL = Decimal("340282350000000000000000000000000000000")
_DEC_MAX_SENTINEL = Decimal("-340282350000000000000000000000000000000")


def is_aggregate_call(node: Expr) -> bool:
    """True if `node` itself is a call of an aggregate function (the only place aggregates are allowed)."""
    return isinstance(node, Call) and callee_name(node) in AGGREGATES


def contains_aggregate(node: Expr) -> bool:
    """True if any aggregate call occurs anywhere in the expression."""
    return any(is_aggregate_call(n) for n in walk(node))


class Accumulator:
    """Running state of one aggregate for one left row."""

    __slots__ = ("spec",)

    def __init__(self, spec: AggregateSpec) -> None:
        self.spec = spec

    def add(self, vars: Vars) -> None:
        """Feed one matching row."""
        raise NotImplementedError

    def result(self) -> Value:
        """The aggregate value so far (the typed zero or the sentinel if nothing was accumulated)."""
        raise NotImplementedError

    def _value_if(self, vars: Vars) -> tuple[bool, Value]:
        spec = self.spec
        value = spec.value(vars) if spec.value is not None else 0
        ok = True if spec.cond is None else bool(spec.cond(vars))
        return ok, value


class _Count(Accumulator):
    __slots__ = ("n",)

    def __init__(self, spec: AggregateSpec) -> None:
        super().__init__(spec)
        self.n = 0

    def add(self, vars: Vars) -> None:
        if self._value_if(vars)[0]:
            self.n += 1

    def result(self) -> Value:
        return self.n


class _Sum(Accumulator):
    """sum and avg: int sums are exact big integers (avg divides the big sum; sum wraps at the end like int64)."""

    __slots__ = ("total", "n")

    def __init__(self, spec: AggregateSpec) -> None:
        super().__init__(spec)
        self.total: Value = spec.result_type.field_type.zero() if spec.result_type.field_type else 0
        self.n = 0

    def add(self, vars: Vars) -> None:
        ok, value = self._value_if(vars)
        if not ok:
            return
        self.n += 1
        t = self.spec.arg_type
        if t is T.DECIMAL2:
            self.total = bi.dec_add(self.total, value)  # type: ignore[arg-type]
        else:
            self.total += value  # type: ignore[operator]

    def result(self) -> Value:
        t, total, n = self.spec.arg_type, self.total, self.n
        if not self.spec.average:
            return wrap_int64(total) if isinstance(total, int) and t is T.INT else total
        if n == 0:
            return total
        if isinstance(total, Decimal):
            return godecimal.round_half_away(godecimal.decimal_div(total, Decimal(n)), 2)
        if isinstance(total, float):
            return total / n
        # Euclidean division of the big-integer sum (floor, since the count is positive).
        assert isinstance(total, int)
        return wrap_int64(total // n)


class _MinMax(Accumulator):
    __slots__ = ("acc",)

    def __init__(self, spec: AggregateSpec) -> None:
        super().__init__(spec)
        self.acc = _sentinel(spec.arg_type, spec.is_min)

    def add(self, vars: Vars) -> None:
        ok, value = self._value_if(vars)
        if not ok:
            return
        acc = self.acc
        if self.spec.arg_type is T.STRING and acc == "":
            # An empty accumulator counts as unset, so an empty minimum is replaced by the next value (quirk 18).
            self.acc = value
        elif (value < acc) if self.spec.is_min else (value > acc):  # type: ignore[operator]
            self.acc = value

    def result(self) -> Value:
        return self.acc


class _StringAgg(Accumulator):
    __slots__ = ("parts", "nonempty")

    def __init__(self, spec: AggregateSpec) -> None:
        super().__init__(spec)
        self.parts: list[str] = []
        self.nonempty = False

    def add(self, vars: Vars) -> None:
        ok, value = self._value_if(vars)
        if not ok:
            return
        if self.nonempty:
            self.parts.append(self.spec.separator)
        self.parts.append(value)  # type: ignore[arg-type]
        self.nonempty = self.nonempty or value != ""

    def result(self) -> Value:
        return "".join(self.parts)


def _sentinel(t: ExprType | None, is_min: bool) -> Value:
    if t is T.STRING:
        return ""
    if t is T.INT:
        return INT64_MAX if is_min else INT64_MIN
    if t is T.FLOAT:
        return _MAX_FLOAT64 if is_min else -_MAX_FLOAT32
    return _DEC_MIN_SENTINEL if is_min else _DEC_MAX_SENTINEL


_ACCUMULATORS: dict[str, type[Accumulator]] = {
    "count": _Count,
    "sum": _Sum,
    "avg": _Sum,
    "min": _MinMax,
    "max": _MinMax,
    "string_agg": _StringAgg,
}


@dataclass(frozen=True)
class AggregateSpec:
    """A compiled aggregate field expression; `new()` makes the accumulator for one left row."""

    name: str
    result_type: ExprType
    arg_type: ExprType | None
    value: CompiledExpr | None
    cond: CompiledExpr | None
    separator: str = ""

    @property
    def base(self) -> str:
        return self.name.removesuffix("_if")

    @property
    def average(self) -> bool:
        return self.base == "avg"

    @property
    def is_min(self) -> bool:
        return self.base == "min"

    def new(self) -> Accumulator:
        """A fresh accumulator (one per left row and field)."""
        return _ACCUMULATORS[self.base](self)


def compile_aggregate(node: Expr, env: Env) -> AggregateSpec:
    """Check and compile a field expression whose root is an aggregate call (grouped lookups only)."""
    if not is_aggregate_call(node):
        raise ExprTypeError("expression is not an aggregate function call", node.src, node.pos)
    assert isinstance(node, Call)
    result_type, types = infer(node, env, Options(allow_aggregates=True))
    name = callee_name(node) or ""
    base = name.removesuffix("_if")
    args = list(node.args)
    cond = compile_checked(args.pop(), types, round_decimals=True) if name.endswith("_if") else None
    value_node = args[0] if args else None
    value = compile_checked(value_node, types, round_decimals=True) if value_node is not None else None
    arg_type = types[id(value_node)] if value_node is not None else None
    if arg_type is T.GO_INT:
        arg_type = T.INT
    separator = ""
    if base == "string_agg":
        sep = args[1]
        assert isinstance(sep, Literal) and isinstance(sep.value, str)
        separator = sep.value
    return AggregateSpec(name, result_type, arg_type, value, cond, separator)
