"""Recursive-descent parser for the Go expression subset Capillaries evaluates (spec 2.1).

Accepts what `go/parser.ParseExpr` accepts for that subset, with Go's precedence
(`* / %` > `+ -` > comparisons > `&&` > `||`). Go syntax that Capillaries cannot evaluate (index, slice, composite
and function literals, type assertions, bit operators, unary `+ ^ * & <-`) is rejected here with its position,
since Go would reject it at the load-time test evaluation anyway. The same grammar parses index definitions
(`unique(a, b(desc, 32))`) and order expressions (`a(desc), b` via `parse_list`).
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Callable

from capillaries_provider.expr.ast import Binary, Call, Expr, Ident, Literal, LitKind, Paren, Selector, Unary
from capillaries_provider.expr.errors import ExprSyntaxError
from capillaries_provider.expr.lexer import Tok, Token, tokenize
from capillaries_provider.expr.types import INT64_MAX

# Loader limits (docs/reliability.md). Every expression in Capillaries' own scripts is far below both; they exist so
# that no text can make parsing, checking or compiling slow or exhaust the stack. Nesting counts parentheses, unary
# operators and call arguments; a flat chain (`a + b + c ...`) is bounded by the length only.
MAX_EXPRESSION_CHARS = 65_536
MAX_EXPRESSION_NESTING = 64

_BINARY_PREC = {
    "||": 1,
    "&&": 2,
    "==": 3,
    "!=": 3,
    "<": 3,
    "<=": 3,
    ">": 3,
    ">=": 3,
    "+": 4,
    "-": 4,
    "|": 4,
    "^": 4,
    "*": 5,
    "/": 5,
    "%": 5,
    "<<": 5,
    ">>": 5,
    "&": 5,
    "&^": 5,
}
_UNSUPPORTED_BINARY = frozenset({"|", "^", "<<", ">>", "&", "&^"})
_LIT_KINDS = {
    Tok.INT: LitKind.INT,
    Tok.FLOAT: LitKind.FLOAT,
    Tok.IMAG: LitKind.IMAG,
    Tok.CHAR: LitKind.CHAR,
    Tok.STRING: LitKind.STRING,
}


def literal_value(kind: LitKind, text: str) -> int | float | decimal.Decimal | str | None:
    """The value Capillaries' evaluator gives a literal's source text, or None if it cannot evaluate it.

    INT: `strconv.ParseInt(text, 10, 64)` - base 10 only (`010` is 10), beyond int64 the literal becomes a decimal;
    FLOAT: `strconv.ParseFloat`; STRING: leading/trailing quote characters trimmed, no escape processing (quirk).
    """
    if kind is LitKind.INT:
        if not text.isascii() or not text.isdigit():
            return None
        value = int(text)
        return decimal.Decimal(value) if value > INT64_MAX else value
    if kind is LitKind.FLOAT:
        # ParseFloat accepts '_' only after a base prefix and reports overflow as an error.
        if text[:2] in ("0x", "0X"):
            try:
                number = float.fromhex(text.replace("_", ""))
            except OverflowError:
                return None
        elif "_" in text:
            return None
        else:
            number = float(text)
        return None if math.isinf(number) else number
    if kind is LitKind.STRING:
        if text.startswith("`"):
            return text.replace("\r", "").strip("`")
        return text.strip('"')
    return None


class _Parser:
    def __init__(self, text: str) -> None:
        if len(text) > MAX_EXPRESSION_CHARS:
            raise ExprSyntaxError(
                f"expression is {len(text):,} characters long, more than the limit of {MAX_EXPRESSION_CHARS:,}",
                text,
                MAX_EXPRESSION_CHARS,
            )
        self.text = text
        self.toks = tokenize(text)
        self.k = 0
        self.nesting = 0

    @property
    def tok(self) -> Token:
        return self.toks[self.k]

    def advance(self) -> Token:
        tok = self.toks[self.k]
        self.k += 1
        return tok

    def error(self, message: str, pos: int | None = None) -> ExprSyntaxError:
        return ExprSyntaxError(message, self.text, self.tok.pos if pos is None else pos)

    def is_op(self, op: str) -> bool:
        return self.tok.kind is Tok.OP and self.tok.text == op

    def expect_op(self, op: str, context: str) -> Token:
        if not self.is_op(op):
            found = self.tok.describe()
            raise self.error(f"expected '{op}'{context}, found {found}")
        return self.advance()

    def nested(self, parse: Callable[[], Expr]) -> Expr:
        """Parse a nested operand (parenthesised, unary, call argument) within the nesting limit."""
        if self.nesting >= MAX_EXPRESSION_NESTING:
            raise self.error(f"expression is nested more than {MAX_EXPRESSION_NESTING} levels deep")
        self.nesting += 1
        x = parse()
        self.nesting -= 1
        return x

    def finish(self) -> None:
        if self.tok.kind is Tok.NEWLINE:
            self.advance()
        if self.tok.kind is not Tok.EOF:
            raise self.error(f"expected EOF, found {self.tok.describe()}")

    # expression := unary { binop unary }, precedence climbing
    def expr(self, min_prec: int = 1) -> Expr:
        x = self.unary()
        while True:
            tok = self.tok
            prec = _BINARY_PREC.get(tok.text, 0) if tok.kind is Tok.OP else 0
            if prec < min_prec:
                return x
            if tok.text in _UNSUPPORTED_BINARY:
                raise self.error(f"operator {tok.text} is not supported (bit operations cannot be evaluated)")
            self.advance()
            y = self.expr(prec + 1)
            x = Binary(x.pos, y.end, tok.text, tok.pos, x, y, src=self.text)

    def unary(self) -> Expr:
        tok = self.tok
        if tok.kind is Tok.OP and tok.text in ("!", "-"):
            self.advance()
            x = self.nested(self.unary)
            return Unary(tok.pos, x.end, tok.text, x, src=self.text)
        if tok.kind is Tok.OP and tok.text in ("+", "^", "*", "&", "<-", "~"):
            raise self.error(f"unary operator {tok.text} is not supported")
        return self.primary()

    def primary(self) -> Expr:
        x = self.operand()
        while True:
            tok = self.tok
            if tok.kind is not Tok.OP:
                return x
            if tok.text == ".":
                self.advance()
                name = self.tok
                if name.kind is Tok.IDENT:
                    self.advance()
                    x = Selector(x.pos, name.end, x, name.text, name.pos, src=self.text)
                elif name.kind is Tok.OP and name.text == "(":
                    raise self.error("type assertions are not supported", name.pos)
                else:
                    raise self.error(f"expected selector or type assertion, found {name.describe()}", name.pos)
            elif tok.text == "(":
                x = self.call(x)
            elif tok.text == "[":
                raise self.error("index and slice expressions are not supported")
            elif tok.text == "{" and isinstance(x, Ident | Selector):
                raise self.error("composite literals are not supported")
            else:
                return x

    def call(self, func: Expr) -> Call:
        self.advance()
        args: list[Expr] = []
        while not self.is_op(")"):
            args.append(self.nested(self.expr))
            if self.is_op("..."):
                raise self.error("variadic '...' arguments are not supported")
            if self.is_op(","):
                self.advance()
            elif not self.is_op(")"):
                found = self.tok.describe()
                raise self.error(f"missing ',' in argument list, found {found}")
        rparen = self.advance()
        return Call(func.pos, rparen.end, func, tuple(args), src=self.text)

    def operand(self) -> Expr:
        tok = self.tok
        if tok.kind is Tok.IDENT:
            self.advance()
            return Ident(tok.pos, tok.end, tok.text, src=self.text)
        if tok.kind in _LIT_KINDS:
            self.advance()
            kind = _LIT_KINDS[tok.kind]
            if kind is LitKind.CHAR:
                raise self.error(f"char literal {tok.text} is not supported, use a string", tok.pos)
            if kind is LitKind.IMAG:
                raise self.error(f"imaginary literal {tok.text} is not supported", tok.pos)
            return Literal(tok.pos, tok.end, kind, tok.text, literal_value(kind, tok.text), src=self.text)
        if tok.kind is Tok.OP and tok.text == "(":
            self.advance()
            x = self.nested(self.expr)
            rparen = self.expect_op(")", "")
            return Paren(tok.pos, rparen.end, x, src=self.text)
        if tok.kind is Tok.KEYWORD and tok.text == "func":
            raise self.error("function literals are not supported")
        if tok.kind is Tok.KEYWORD and tok.text in ("map", "chan", "struct", "interface"):
            raise self.error(f"{tok.text} types are not supported")
        if tok.kind is Tok.OP and tok.text == "[":
            raise self.error("composite literals are not supported")
        raise self.error(f"expected operand, found {tok.describe()}")


def parse(text: str) -> Expr:
    """Parse one expression; ExprSyntaxError (with position) if it is not valid in the supported Go subset."""
    p = _Parser(text)
    x = p.expr()
    p.finish()
    return x


def parse_list(text: str) -> list[Expr]:
    """Parse a comma-separated list of expressions, e.g. an order expression `a(desc), b`."""
    p = _Parser(text)
    items = [p.expr()]
    while p.is_op(","):
        p.advance()
        items.append(p.expr())
    p.finish()
    return items
