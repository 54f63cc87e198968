"""Parser: Go precedence, literal quirks, positions and error carets (spec 2.1, 2.2)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from capillaries_provider.expr import (
    Binary,
    Call,
    Expr,
    ExprSyntaxError,
    Ident,
    Literal,
    LitKind,
    Paren,
    Selector,
    Unary,
    field_refs,
    parse,
    parse_list,
)


def show(node: Expr) -> str:
    """Fully parenthesised rendering, to assert the tree shape compactly."""
    if isinstance(node, Literal):
        return node.text
    if isinstance(node, Ident):
        return node.name
    if isinstance(node, Selector):
        return f"{show(node.x)}.{node.name}"
    if isinstance(node, Call):
        return f"{show(node.func)}({', '.join(show(a) for a in node.args)})"
    if isinstance(node, Unary):
        return f"({node.op}{show(node.x)})"
    if isinstance(node, Binary):
        return f"({show(node.x)} {node.op} {show(node.y)})"
    assert isinstance(node, Paren)
    return f"[{show(node.x)}]"


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("a + b * c", "(a + (b * c))"),
        ("a * b + c", "((a * b) + c)"),
        ("a - b - c", "((a - b) - c)"),
        ("a / b % c * d", "(((a / b) % c) * d)"),
        ("a + b == c - d", "((a + b) == (c - d))"),
        ("a == b && c != d || e < f", "(((a == b) && (c != d)) || (e < f))"),
        ("a || b && c", "(a || (b && c))"),
        ("!a && b", "((!a) && b)"),
        ("-a * b", "((-a) * b)"),
        ("- -a", "(-(-a))"),
        ("!!a", "(!(!a))"),
        ("(a + b) * c", "([(a + b)] * c)"),
        ("a <= b == true", "((a <= b) == true)"),
        ("r.x", "r.x"),
        ("time.UTC", "time.UTC"),
        ("f()", "f()"),
        ("pkg.f(a, b.c, 1)", "pkg.f(a, b.c, 1)"),
        ("f(a, b,)", "f(a, b)"),
        ("int.iif(r.x > 0, r.x, -r.x)", "int.iif((r.x > 0), r.x, (-r.x))"),
        ("f(g(h(x)))", "f(g(h(x)))"),
        ("a /* c */ + // tail\n b", "(a + b)"),
        ("a +\n b", "(a + b)"),
        ("r.a\n", "r.a"),
    ],
)
def test_precedence_and_shapes(text: str, tree: str) -> None:
    assert show(parse(text)) == tree


def test_index_definition_and_order_expression_syntax() -> None:
    node = parse("unique(a, b(desc, ignore_case, 32))")
    assert show(node) == "unique(a, b(desc, ignore_case, 32))"
    assert [show(n) for n in parse_list("a(desc),b")] == ["a(desc)", "b"]
    assert [show(n) for n in parse_list("run_is_current(desc), run_id(desc)")] == [
        "run_is_current(desc)",
        "run_id(desc)",
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("10", 10),
        ("010", 10),  # base 10 only: not octal
        ("0", 0),
        ("9223372036854775807", 9223372036854775807),
        ("9223372036854775808", Decimal("9223372036854775808")),  # overflow becomes a decimal
        ("0x1F", None),
        ("0o7", None),
        ("0b1", None),
        ("1_000", None),
        ("1.5", 1.5),
        (".5", 0.5),
        ("1.", 1.0),
        ("1e3", 1000.0),
        ("1E-2", 0.01),
        ("0x1p-2", 0.25),
        ("1e400", None),
        ('"abc"', "abc"),
        ('"a\\tb"', "a\\tb"),  # no escape processing
        ('"\\"q\\""', '\\"q\\'),  # all leading/trailing " trimmed, backslashes kept
        ("`raw \\n`", "raw \\n"),
        ('`"%s|%d"`', '"%s|%d"'),  # backticks trimmed, inner double quotes kept
        ('""', ""),
    ],
)
def test_literal_values(text: str, value: object) -> None:
    node = parse(text)
    assert isinstance(node, Literal)
    assert node.value == value
    assert type(node.value) is type(value)


def test_literal_kinds_and_spans() -> None:
    node = parse('  f(12, 1.5, "x")')
    assert isinstance(node, Call)
    assert (node.pos, node.end) == (2, 17)
    kinds = [a.kind for a in node.args if isinstance(a, Literal)]
    assert kinds == [LitKind.INT, LitKind.FLOAT, LitKind.STRING]
    assert [(a.pos, a.end) for a in node.args] == [(4, 6), (8, 11), (13, 16)]


def test_binary_operator_position_and_source() -> None:
    node = parse("r.a  >= 5")
    assert isinstance(node, Binary)
    assert node.op_pos == 5
    assert node.src == "r.a  >= 5"
    assert node.x.src == "r.a  >= 5"


@pytest.mark.parametrize(
    ("text", "pos", "message"),
    [
        ("a[0]", 1, "index and slice expressions are not supported"),
        ("a[1:2]", 1, "index and slice expressions are not supported"),
        ("a & b", 2, "operator & is not supported"),
        ("a | b", 2, "operator | is not supported"),
        ("a ^ b", 2, "operator ^ is not supported"),
        ("a << 2", 2, "operator << is not supported"),
        ("a &^ b", 2, "operator &^ is not supported"),
        ("+a", 0, "unary operator + is not supported"),
        ("^a", 0, "unary operator ^ is not supported"),
        ("x == 'a'", 5, "char literal 'a' is not supported"),
        ("1i", 0, "imaginary literal 1i is not supported"),
        ("T{1, 2}", 1, "composite literals are not supported"),
        ("[]int{1}", 0, "composite literals are not supported"),
        ("func() int { return 1 }", 0, "function literals are not supported"),
        ("x.(int)", 2, "type assertions are not supported"),
        ("f(a...)", 3, "variadic"),
        ("a +", 3, "expected operand, found EOF"),
        ("(a", 2, "expected ')', found EOF"),
        ("a b", 2, "expected EOF, found identifier b"),
        ("a\n+ b", 2, "expected EOF, found '+'"),
        ("f(a\n, b)", 3, "missing ',' in argument list, found newline"),
        ("r.type", 2, "expected selector or type assertion, found 'type'"),
        ('"abc', 0, "string literal not terminated"),
        ("`abc", 0, "raw string literal not terminated"),
        ('"a\\qb"', 2, "unknown escape sequence"),
        ("1__0", 0, "'_' must separate successive digits"),
        ("09", 0, "invalid digit '9' in octal literal"),
        ("a # b", 2, "invalid character '#'"),
        ("", 0, "expected operand, found EOF"),
        ("a = b", 2, "expected EOF, found '='"),
    ],
)
def test_syntax_errors_have_positions(text: str, pos: int, message: str) -> None:
    with pytest.raises(ExprSyntaxError) as info:
        parse(text)
    assert message in info.value.message
    assert info.value.pos == pos
    assert info.value.text == text


def test_error_format_draws_caret_under_position() -> None:
    with pytest.raises(ExprSyntaxError) as info:
        parse("r.a + r.b[1]")
    assert info.value.format() == "index and slice expressions are not supported\n  r.a + r.b[1]\n           ^"
    assert "position 9" in str(info.value)


def test_field_refs_skip_callees_and_package_constants() -> None:
    node = parse('time.Date(r.y, time.March, 1, 0, 0, 0, 0, time.UTC) > l.t && fmt.Sprintf("%d", p.n) == w.s')
    assert field_refs(node) == {("r", "y"), ("l", "t"), ("p", "n"), ("w", "s")}
    assert field_refs(parse("nrs.run_status == wfmodel.RunStart")) == {("nrs", "run_status")}
    assert field_refs(parse("true")) == set()


def test_identifiers_are_unicode_but_numbers_ascii() -> None:
    node = parse("r.prix_é1")
    assert isinstance(node, Selector) and node.name == "prix_é1"
    with pytest.raises(ExprSyntaxError, match="invalid character"):
        parse("²")
