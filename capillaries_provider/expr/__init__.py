"""Capillaries expression language: Go-subset parser, static type checker, compiler and aggregates (spec 2).

Typical use by the script layer::

    node = parse("r.price * 1.1")                      # ExprSyntaxError with position on bad text
    t = check(node, {"r": {"price": FieldType.FLOAT}})  # ExprTypeError; t.matches(FieldType.FLOAT)
    fn = compile_expr(node, env, round_decimals=True)   # fn({"r": {"price": 2.0}}) -> 2.2...
"""

from capillaries_provider.expr.aggregates import (
    Accumulator,
    AggregateSpec,
    compile_aggregate,
    contains_aggregate,
    is_aggregate_call,
)
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
    field_refs,
    unparen,
    walk,
)
from capillaries_provider.expr.checker import WFMODEL_CONSTANTS, ExprType, check
from capillaries_provider.expr.compiler import CompiledExpr, Vars, compile_expr
from capillaries_provider.expr.errors import ExprError, ExprRuntimeError, ExprSyntaxError, ExprTypeError
from capillaries_provider.expr.parser import parse, parse_list
from capillaries_provider.expr.types import FieldType, Value

__all__ = [
    "Accumulator",
    "AggregateSpec",
    "Binary",
    "Call",
    "CompiledExpr",
    "Expr",
    "ExprError",
    "ExprRuntimeError",
    "ExprSyntaxError",
    "ExprType",
    "ExprTypeError",
    "FieldType",
    "Ident",
    "LitKind",
    "Literal",
    "Paren",
    "Selector",
    "Unary",
    "Value",
    "Vars",
    "WFMODEL_CONSTANTS",
    "callee_name",
    "check",
    "compile_aggregate",
    "compile_expr",
    "contains_aggregate",
    "field_refs",
    "is_aggregate_call",
    "parse",
    "parse_list",
    "unparen",
    "walk",
]
