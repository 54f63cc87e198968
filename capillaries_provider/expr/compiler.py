"""Compile a checked expression AST into a fast Python callable.

The checker fixes every node's Go type, so each operator can be emitted in its type-specialised form: native
Python where it already equals Go (float `+`, string `+`, comparisons), inline int64 wrap checks, helper calls only
where Go differs. The generated source is built solely from our own templates: user literals and field names are
never spliced into it, they are bound as closure constants (`_c0`, `_c1`, ...) of a factory function.
"""

from __future__ import annotations

import datetime as _dt
import decimal
from collections.abc import Callable, Mapping
from typing import Any

from capillaries_provider.expr import builtins as bi
from capillaries_provider.expr import godecimal, gofmt, gotime
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
    children,
    field_refs,
    left_chain,
    walk,
)
from capillaries_provider.expr.checker import MONTHS, WFMODEL_CONSTANTS, Env, ExprType, Options, infer, promote
from capillaries_provider.expr.errors import ExprError, ExprRuntimeError, ExprTypeError
from capillaries_provider.expr.types import Value

T = ExprType
Vars = Mapping[str, Mapping[str, Value]]
CompiledExpr = Callable[[Vars], Value]

# Python's parser rejects more than 200 nested brackets; each level of generated code adds at most 3.
_MAX_DEPTH = 20
_INT_RANGE = "-9223372036854775808 <= ({t} := {a} {op} {b}) <= 9223372036854775807"
# Helpers bound into every generated module under fixed names.
_HELPERS: dict[str, object] = {
    "_wrap": bi.wrap_int64,
    "_idiv": bi.int_div,
    "_imod": bi.int_mod,
    "_fdiv": bi.float_div,
    "_Dec": decimal.Decimal,
    "_blen": bi.byte_len,
    "_fmtv": gofmt.format_v,
    "_sprintf": gofmt.sprintf,
    "_parse_int": gofmt.parse_int,
    "_parse_float": gofmt.parse_float,
    "_dec_str": godecimal.decimal_from_string,
    "_dec_float": godecimal.decimal_from_float,
    "_f2i": bi.float_to_int,
    "_d2i": bi.decimal_to_int,
    "_d2f": godecimal.decimal_to_float,
    "_iif": bi.iif,
    "_sqrt": bi.sqrt,
    "_round": bi.go_round,
    "_tparse": gotime.parse,
    "_tformat": gotime.format,
    "_tdate": bi.time_date,
    "_now": bi.time_now,
    "_unix": bi.unix,
    "_unixmilli": bi.unix_milli,
    "_diffmilli": bi.diff_milli,
    "_fixedzone": bi.fixed_zone,
    "_rematch": bi.match_string,
    "_dneg": bi.dec_neg,
    "_dadd": bi.dec_add,
    "_dsub": bi.dec_sub,
    "_dmul": bi.dec_mul,
    "_ddiv": bi.dec_div,
    "_dadd_r": bi.dec_add_r,
    "_dsub_r": bi.dec_sub_r,
    "_dmul_r": bi.dec_mul_r,
    "_ddiv_r": bi.dec_div_r,
    "_q": '"',
    "_bsq": '\\"',
    "_bs": "\\",
}
_STRING_COMPARE_REPLACEMENTS = {"_bs": "\\", "_q": '"'}
# Decimal operators by round_decimals (spec 2.6): exact, or rounded to 2 places after every operation.
_DEC_OPS = {
    False: {"+": "_dadd", "-": "_dsub", "*": "_dmul", "/": "_ddiv"},
    True: {"+": "_dadd_r", "-": "_dsub_r", "*": "_dmul_r", "/": "_ddiv_r"},
}


class _Code:
    """A generated Python expression (always atomic: a name, a call or parenthesised) and whether it may raise."""

    __slots__ = ("src", "fails")

    def __init__(self, src: str, fails: bool) -> None:
        self.src = src
        self.fails = fails


class _Gen:
    def __init__(self, types: dict[int, ExprType], round_decimals: bool, allow_wfmodel: bool) -> None:
        self.types = types
        self.round = round_decimals
        self.wfmodel = allow_wfmodel
        self.consts: dict[str, object] = {}
        self.const_keys: dict[tuple[str, str], str] = {}
        self.aliases: dict[str, str] = {}
        self.ntemp = 0
        self.stmts: list[str] = []
        self.depths: dict[int, int] = {}
        self.ready: dict[int, _Code] = {}  # left operands of a flat chain, generated bottom-up (see left_chain)

    def const(self, value: object) -> str:
        key = (type(value).__name__, repr(value))
        name = self.const_keys.get(key)
        if name is None:
            name = f"_c{len(self.consts)}"
            self.consts[name] = value
            self.const_keys[key] = name
        return name

    def alias(self, alias: str) -> str:
        name = self.aliases.get(alias)
        if name is None:
            name = self.aliases[alias] = f"_a{len(self.aliases)}"
        return name

    def temp(self) -> str:
        self.ntemp += 1
        return f"_t{self.ntemp}"

    def type(self, node: Expr) -> ExprType:
        return self.types[id(node)]

    def gen(self, node: Expr) -> _Code:
        """Code for `node`; sub-expressions nested deeper than Python's parser allows are hoisted into temps."""
        ready = self.ready.pop(id(node), None)
        if ready is not None:
            return ready
        if isinstance(node, Binary):
            for inner in reversed(left_chain(node.x, self.ready)):
                self.ready[id(inner)] = self.gen(inner)
        code = self._gen(node)
        depth = 1 + max((self.depths.get(id(c), 0) for c in children(node)), default=0)
        if depth > _MAX_DEPTH:
            tmp = self.temp()
            self.stmts.append(f"{tmp} = {code.src}")
            code, depth = _Code(tmp, code.fails), 0
        self.depths[id(node)] = depth
        return code

    def _gen(self, node: Expr) -> _Code:
        if isinstance(node, Literal):
            return _Code(self.const(node.value), False)
        if isinstance(node, Ident):
            if node.name in ("true", "false"):
                return _Code("True" if node.name == "true" else "False", False)
            return _Code(f"{self.alias('')}[{self.const(node.name)}]", False)
        if isinstance(node, Selector):
            return self.selector(node)
        if isinstance(node, Paren):
            return self.gen(node.x)
        if isinstance(node, Unary):
            return self.unary(node)
        if isinstance(node, Binary):
            return self.binary(node)
        return self.call(node)

    def selector(self, node: Selector) -> _Code:
        assert isinstance(node.x, Ident)
        pkg, name = node.x.name, node.name
        t = self.type(node)
        if t is T.MONTH:
            return _Code(self.const(MONTHS.index(name) + 1), False)
        if t is T.LOCATION:
            return _Code(self.const(_dt.UTC), False)
        if pkg == "wfmodel" and self.wfmodel:
            return _Code(self.const(WFMODEL_CONSTANTS[name]), False)
        return _Code(f"{self.alias(pkg)}[{self.const(name)}]", False)

    def convert(self, code: _Code, src: ExprType, dst: ExprType) -> _Code:
        """Numeric promotion of an operand (spec 2.3)."""
        if src is dst or (src is T.GO_INT and dst is T.INT):
            return code
        if dst is T.FLOAT:
            return _Code(f"_d2f({code.src})" if src is T.DECIMAL2 else f"float({code.src})", code.fails)
        if dst is T.DECIMAL2:
            return _Code(f"_Dec({code.src})", code.fails)
        raise AssertionError(f"no conversion {src} -> {dst}")

    def unary(self, node: Unary) -> _Code:
        if node.op == "-" and isinstance(node.x, Literal) and type(node.x.value) in (int, float):
            value = node.x.value
            assert isinstance(value, int | float)
            return _Code(self.const(bi.wrap_int64(-value) if isinstance(value, int) else -value), False)
        x = self.gen(node.x)
        if node.op == "!":
            return _Code(f"(not {x.src})", x.fails)
        t = self.type(node.x)
        if t in (T.INT, T.GO_INT):
            tmp = self.temp()
            return _Code(f"(-{tmp} if ({tmp} := {x.src}) != -9223372036854775808 else {tmp})", x.fails)
        if t is T.FLOAT:
            return _Code(f"(-{x.src})", x.fails)
        return _Code(f"_dneg({x.src})", x.fails)

    def binary(self, node: Binary) -> _Code:
        a, b = self.gen(node.x), self.gen(node.y)
        ta, tb = self.type(node.x), self.type(node.y)
        fails = a.fails or b.fails
        op = node.op
        if op == "&&":
            return _Code(f"({a.src} & {b.src})", fails)
        if op == "||":
            return _Code(f"({a.src} | {b.src})", fails)
        if op in ("==", "!=", "<", "<=", ">", ">="):
            return self.comparison(node, a, b, ta, tb)
        t = self.type(node)
        if t is T.STRING:
            return _Code(f"({a.src} + {b.src})", fails)
        a, b = self.convert(a, ta, t), self.convert(b, tb, t)
        if t is T.INT:
            if op == "/":
                return _Code(f"_idiv({a.src}, {b.src})", True)
            if op == "%":
                return _Code(f"_imod({a.src}, {b.src})", True)
            tmp = self.temp()
            in_range = _INT_RANGE.format(t=tmp, a=a.src, op=op, b=b.src)
            return _Code(f"({tmp} if {in_range} else _wrap({tmp}))", fails)
        if t is T.FLOAT:
            if op != "/":
                return _Code(f"({a.src} {op} {b.src})", fails)
            if isinstance(node.y, Literal) and isinstance(node.y.value, int | float) and node.y.value != 0:
                return _Code(f"({a.src} / {b.src})", fails)
            return _Code(f"_fdiv({a.src}, {b.src})", fails)
        return _Code(f"{_DEC_OPS[self.round][op]}({a.src}, {b.src})", fails or op == "/")

    def comparison(self, node: Binary, a: _Code, b: _Code, ta: ExprType, tb: ExprType) -> _Code:
        fails = a.fails or b.fails
        if ta is T.STRING:
            # Quirk (spec 2.3): quotes trimmed on both sides, then `\"` -> `\` on the left and `\"` -> `"` on the right.
            left = self.string_operand(node.x, a, "_bs")
            right = self.string_operand(node.y, b, "_q")
            return _Code(f"({left} {node.op} {right})", fails)
        if ta.is_numeric:
            t = promote(ta, tb)
            a, b = self.convert(a, ta, t), self.convert(b, tb, t)
        return _Code(f"({a.src} {node.op} {b.src})", fails)

    def string_operand(self, node: Expr, code: _Code, replacement: str) -> str:
        if isinstance(node, Literal) and isinstance(node.value, str):
            return self.const(node.value.strip('"').replace('\\"', _STRING_COMPARE_REPLACEMENTS[replacement]))
        return f"{code.src}.strip(_q).replace(_bsq, {replacement})"

    def call(self, node: Call) -> _Code:
        name = callee_name(node)
        args = [self.gen(a) for a in node.args]
        types = [self.type(a) for a in node.args]
        fails = any(a.fails for a in args)
        srcs = [a.src for a in args]
        if name == "len":
            return _Code(f"_blen({srcs[0]})", fails)
        if name == "string":
            return args[0] if types[0] is T.STRING else _Code(f"_fmtv({srcs[0]})", fails)
        if name in ("int", "float", "decimal2"):
            return self.conversion(name, args[0], types[0])
        if name is not None and name.endswith(".iif"):
            if args[1].fails or args[2].fails:
                return _Code(f"_iif({srcs[0]}, {srcs[1]}, {srcs[2]})", True)
            return _Code(f"({srcs[1]} if {srcs[0]} else {srcs[2]})", fails)
        if name in ("math.Sqrt", "math.Round"):
            x = self.convert(args[0], types[0], T.FLOAT)
            return _Code(f"{'_sqrt' if name == 'math.Sqrt' else '_round'}({x.src})", fails)
        if name == "time.Before":
            return _Code(f"({srcs[0]} < {srcs[1]})", fails)
        if name == "time.After":
            return _Code(f"({srcs[0]} > {srcs[1]})", fails)
        if name == "strings.ReplaceAll":
            return _Code(f"{srcs[0]}.replace({srcs[1]}, {srcs[2]})", fails)
        if name == "fmt.Sprintf":
            fmt = node.args[0]
            if isinstance(fmt, Literal) and isinstance(fmt.value, str):
                py_fmt = python_format(fmt.value, types[1:])
                if py_fmt is not None:
                    return _Code(f"({self.const(py_fmt)} % ({', '.join(srcs[1:])},))", fails)
            return _Code(f"_sprintf({srcs[0]}, ({', '.join(srcs[1:])},))", True)
        if name == "re.MatchString":
            return self.regex(node, args)
        helper = {
            "time.Parse": "_tparse",
            "time.Format": "_tformat",
            "time.Date": "_tdate",
            "time.Now": "_now",
            "time.Unix": "_unix",
            "time.UnixMilli": "_unixmilli",
            "time.DiffMilli": "_diffmilli",
            "time.FixedZone": "_fixedzone",
        }[name or ""]
        return _Code(f"{helper}({', '.join(srcs)})", True)

    def regex(self, node: Call, args: list[_Code]) -> _Code:
        pattern = node.args[0]
        if isinstance(pattern, Literal) and isinstance(pattern.value, str):
            try:
                rx = bi.compile_regex(pattern.value)
            except ValueError:
                pass  # reported when evaluated, as Go does
            else:
                return _Code(f"({self.const(rx)}.search({args[1].src}) is not None)", args[1].fails)
        return _Code(f"_rematch({args[0].src}, {args[1].src})", True)

    def conversion(self, name: str, x: _Code, t: ExprType) -> _Code:
        """int(), float(), decimal2() (spec 2.5); decimal2() is deliberately not rounded."""
        s = x.src
        if t is T.STRING:
            helper = {"int": "_parse_int", "float": "_parse_float", "decimal2": "_dec_str"}[name]
            return _Code(f"{helper}({s})", True)
        if t is T.BOOL:
            one, zero = {"int": (1, 0), "float": (1.0, 0.0), "decimal2": (decimal.Decimal(1), decimal.Decimal(0))}[name]
            return _Code(f"({self.const(one)} if {s} else {self.const(zero)})", x.fails)
        if name == "int":
            src = {T.FLOAT: f"_f2i({s})", T.DECIMAL2: f"_d2i({s})"}.get(t, s)
            return _Code(src, x.fails)
        if name == "float":
            return self.convert(x, t, T.FLOAT)
        if t is T.FLOAT:
            return _Code(f"_dec_float({s})", True)
        return self.convert(x, t, T.DECIMAL2)


_INT_TYPES = (T.INT, T.GO_INT)


_FAST_FORMAT_WIDTHS = 1 << 16


def python_format(fmt: str, types: list[ExprType]) -> str | None:
    """A Python %-format equal to Go's Sprintf(fmt) for args of these types, or None if not provably equal.

    Only the common verbs whose output is identical in both languages qualify: `%s`/`%v` of strings (width,
    precision, `-`; widths count runes in Go and code points in Python), `%d`/`%v` of ints (width, `-`, `0`), and
    `%%`. Anything else (floats, decimals, other flags, argument indexes, arity mismatch) goes through gofmt.
    """
    out: list[str] = []
    i, n, argi, widths = 0, len(fmt), 0, 0
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        k = j + 1
        flags = ""
        while k < n and fmt[k] in "-0":
            flags += fmt[k]
            k += 1
        width_start = k
        while k < n and fmt[k].isdigit():
            k += 1
        width = fmt[width_start:k]
        widths += int(width or 0)
        precision = ""
        if k < n and fmt[k] == ".":
            p_start = k
            k += 1
            while k < n and fmt[k].isdigit():
                k += 1
            precision = fmt[p_start:k]
        if k >= n:
            return None
        verb = fmt[k]
        if verb == "%" and not (flags or width or precision):
            out.append("%%")
        elif argi >= len(types) or len(flags) > 1 or len(width) > 6 or len(precision) > 7:
            return None  # Go reports widths/precisions >= 1e6 as %!(BADWIDTH)/%!(BADPREC)
        elif verb in "sv" and types[argi] is T.STRING and "0" not in flags:
            out.append(f"%{flags}{width}{precision}s")
            argi += 1
        elif verb in "dv" and types[argi] in _INT_TYPES and not precision:
            out.append(f"%{flags}{width}d")
            argi += 1
        else:
            return None
        i = k + 1
    if widths > _FAST_FORMAT_WIDTHS:
        return None  # gofmt bounds the result (MAX_FORMATTED_CHARS); here padding alone could be gigabytes
    return "".join(out) if argi == len(types) else None


def runtime_error(text: str, exc: Exception) -> ExprRuntimeError:
    """Wrap any failure during evaluation so that it names the expression."""
    if isinstance(exc, ExprError):
        return ExprRuntimeError(exc.message, text, -1)
    detail = f"no value for {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc) or type(exc).__name__
    return ExprRuntimeError(f"cannot evaluate expression: {detail}", text, -1)


_TEMPLATE = """\
def _make({params}):
    def _expr(v):
        try:
{bindings}            return {body}
        except Exception as e:
            raise _err(e) from e
    return _expr
"""


def build_function(gen: _Gen, body: str, text: str) -> CompiledExpr:
    """Compile `body` (generated by `gen`) into `def _expr(vars)` with all names bound through a factory."""
    bindings = "".join(f"            {var} = v[{gen.const(alias)}]\n" for alias, var in gen.aliases.items())
    bindings += "".join(f"            {stmt}\n" for stmt in gen.stmts)
    names: dict[str, Any] = {**_HELPERS, **gen.consts, "_err": lambda e: runtime_error(text, e)}
    source = _TEMPLATE.format(params=", ".join(names), bindings=bindings, body=body)
    code = compile(source, "<capillaries expression>", "exec")
    namespace: dict[str, Any] = {"__builtins__": {"float": float, "Exception": Exception}}
    exec(code, namespace)  # noqa: S102 - our generated source only; user text is bound as constants
    fn: CompiledExpr = namespace["_make"](*names.values())
    return fn


def compile_checked(
    node: Expr,
    types: dict[int, ExprType],
    *,
    round_decimals: bool,
    allow_wfmodel: bool = False,
    keep_root_string_quotes: bool = False,
) -> CompiledExpr:
    """Compile a node whose types were already inferred (used by the aggregate compiler too)."""
    gen = _Gen(types, round_decimals, allow_wfmodel)
    if keep_root_string_quotes and isinstance(node, Literal) and node.kind is LitKind.STRING:
        body = gen.const(node.text)
    else:
        body = gen.gen(node).src
    return build_function(gen, body, node.src)


_CACHE: dict[tuple[object, ...], CompiledExpr] = {}
_CACHE_LIMIT = 4096


def _env_signature(node: Expr, env: Env, allow_plain_idents: bool) -> tuple[tuple[str, str, object], ...]:
    """The part of `env` the compiled code depends on: the types of the fields the expression references."""
    refs = set(field_refs(node))
    if allow_plain_idents:
        refs.update(("", n.name) for n in walk(node) if isinstance(n, Ident) and n.name not in ("true", "false"))
    return tuple(sorted((alias, name, env.get(alias, {}).get(name)) for alias, name in refs))


def compile_expr(
    node: Expr,
    env: Env,
    *,
    round_decimals: bool,
    allow_plain_idents: bool = False,
    allow_wfmodel: bool = False,
    keep_root_string_quotes: bool = False,
) -> CompiledExpr:
    """Type-check `node` against `env` and return `f(vars) -> value`, vars like {"r": {"a": 1}, "l": {...}}.

    `round_decimals` selects the round-dec-2 contexts of spec 2.6. `keep_root_string_quotes` reproduces the grouped
    lookup quirk where a field that is only a string literal keeps its quotes (spec 2.7). Aggregates are rejected:
    use `compile_aggregate`. Evaluation errors raise ExprRuntimeError naming the expression. Compiled functions are
    pure, so they are cached per (expression, referenced field types, options): workers compile per batch.
    """
    flags = (round_decimals, allow_plain_idents, allow_wfmodel, keep_root_string_quotes)
    # A parsed node is identified by its text and span (parsing is deterministic); hand-built nodes have no text.
    key = (node.src, node.pos, node.end, type(node), _env_signature(node, env, allow_plain_idents), flags)
    fn = _CACHE.get(key) if node.src else None
    if fn is not None:
        return fn
    try:
        _, types = infer(node, env, Options(False, allow_plain_idents, allow_wfmodel))
        fn = compile_checked(
            node,
            types,
            round_decimals=round_decimals,
            allow_wfmodel=allow_wfmodel,
            keep_root_string_quotes=keep_root_string_quotes,
        )
    except (RecursionError, SyntaxError, MemoryError):
        raise ExprTypeError("expression is too complex to compile", node.src, node.pos) from None
    if node.src:
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        _CACHE[key] = fn
    return fn
