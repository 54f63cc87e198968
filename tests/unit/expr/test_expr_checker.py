"""Static type checker: result types, Go int quirk, unknown fields, operator/function type errors."""

from __future__ import annotations

import pytest

from capillaries_provider.expr import ExprType, ExprTypeError, FieldType, check, parse

F = FieldType
T = ExprType
ENV = {
    "r": {"i": F.INT, "f": F.FLOAT, "d": F.DECIMAL2, "s": F.STRING, "b": F.BOOL, "t": F.DATETIME},
    "l": {"i": F.INT, "s": F.STRING},
}


def typeof(text: str, **kw: bool) -> ExprType:
    return check(parse(text), ENV, **kw)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", T.INT),
        ("9223372036854775808", T.DECIMAL2),
        ("1.5", T.FLOAT),
        ('"x"', T.STRING),
        ("true", T.BOOL),
        ("r.i + 1", T.INT),
        ("r.i + r.f", T.FLOAT),
        ("r.d + r.i", T.DECIMAL2),
        ("r.d * r.f", T.FLOAT),  # float beats decimal
        ("r.i % 2", T.INT),
        ('r.s + "x"', T.STRING),
        ("-r.d", T.DECIMAL2),
        ("!r.b", T.BOOL),
        ("r.i < r.f", T.BOOL),
        ("r.t >= r.t", T.BOOL),
        ("r.b == false", T.BOOL),
        ("len(r.s)", T.GO_INT),
        ("len(r.s) + 0", T.INT),
        ("len(r.s) * len(r.s)", T.INT),
        ("len(r.s) > 3", T.BOOL),
        ("string(r.t)", T.STRING),
        ("int(r.s)", T.INT),
        ("float(r.d)", T.FLOAT),
        ("decimal2(r.f)", T.DECIMAL2),
        ("decimal2.iif(r.b, r.d, decimal2(0))", T.DECIMAL2),
        ("time.iif(r.b, r.t, r.t)", T.DATETIME),
        ("math.Round(r.d)", T.FLOAT),
        ("math.Sqrt(r.i)", T.FLOAT),
        ('time.Parse("2006", r.s)', T.DATETIME),
        ('time.Format(r.t, "2006")', T.STRING),
        ("time.Date(2000, time.May, 1, 0, 0, 0, 0, time.UTC)", T.DATETIME),
        ('time.Date(2000, time.May, 1, 0, 0, 0, 0, time.FixedZone("X", 3600))', T.DATETIME),
        ("time.Now()", T.DATETIME),
        ("time.Unix(r.t)", T.INT),
        ("time.UnixMilli(r.t)", T.INT),
        ("time.DiffMilli(r.t, r.t)", T.INT),
        ("time.Before(r.t, r.t)", T.BOOL),
        ("time.After(r.t, r.t)", T.BOOL),
        ('re.MatchString("a", r.s)', T.BOOL),
        ('strings.ReplaceAll(r.s, "a", "b")', T.STRING),
        ('fmt.Sprintf("%d %s %v %t", r.i, r.s, r.d, r.b)', T.STRING),
    ],
)
def test_result_types(text: str, expected: ExprType) -> None:
    assert typeof(text) is expected


def test_go_int_is_not_a_field_type() -> None:
    assert not typeof("len(r.s)").matches(F.INT)
    assert typeof("len(r.s) + 0").matches(F.INT)
    assert T.of(F.DECIMAL2) is T.DECIMAL2
    assert T.MONTH.field_type is None


@pytest.mark.parametrize(
    ("text", "message", "pos"),
    [
        ("r.nope", "unknown field r.nope", 0),
        ("x.y + 1", "unknown field x.y", 0),
        ("1 + r.i + q", "plain identifier q is not allowed", 10),
        ('r.i + "a"', "cannot evaluate + on int and string", 4),
        ("r.s - r.s", "strings support only +", 4),
        ("r.s + 1", "cannot evaluate + on string and int", 4),
        ("r.f % 2.0", "cannot evaluate % on float values", 4),
        ("r.d % r.d", "cannot evaluate % on decimal2 values", 4),
        ("r.b + r.b", "cannot evaluate + on bool and bool", 4),
        ("r.t - r.t", "cannot evaluate - on datetime and datetime", 4),
        ("r.b < r.b", "cannot evaluate < on bool values", 4),
        ("r.s == 1", "cannot evaluate == on string and int", 4),
        ("r.t == r.s", "cannot evaluate == on datetime and string", 4),
        ("r.i && true", "cannot evaluate && on int and bool", 4),
        ("r.b || 1", "cannot evaluate || on bool and int", 4),
        ("!r.i", "cannot evaluate !: operand must be bool, got int", 0),
        ("-r.s", "cannot evaluate unary -: operand must be a number, got string", 0),
        ("nosuch(r.i)", "cannot evaluate unknown function nosuch()", 0),
        ("len(r.s, r.s)", "cannot evaluate len(), requires 1 args, 2 supplied", 0),
        ("time.Now(1)", "cannot evaluate time.Now(), requires 0 args, 1 supplied", 0),
        ("len(r.i)", "cannot evaluate len(): argument 1 must be string, got int", 4),
        ("int.iif(r.b, r.i, r.f)", "argument 3 must be int, got float", 18),
        ("int.iif(r.b, len(r.s), 0)", "argument 2 must be int, got int (Go int)", 13),
        ("time.Date(len(r.s), time.May, 1, 0, 0, 0, 0, time.UTC)", "argument 1 must be int, got int (Go int)", 10),
        ("time.Date(2000, 5, 1, 0, 0, 0, 0, time.UTC)", "argument 2 must be time.Month, got int", 16),
        ('fmt.Sprintf("x")', "requires at least 2 args, 1 supplied", 0),
        ('fmt.Sprintf(r.i, "x")', "argument 1 must be string, got int", 12),
        ("string(time.UTC)", "argument 1 must be any value, got *time.Location", 7),
        ("0x10 + 1", "cannot evaluate integer literal 0x10", 0),
        ("1_0.5", "cannot evaluate literal 1_0.5", 0),
        ("r.i.x", "cannot evaluate selector .x on a non-identifier", 4),
        ("f().x", "cannot evaluate selector .x", 4),
        ("(f)(1)", "cannot evaluate a call of a non-function", 0),
        ("wfmodel.RunStart", "unknown field wfmodel.RunStart", 0),
    ],
)
def test_type_errors_name_the_culprit(text: str, message: str, pos: int) -> None:
    with pytest.raises(ExprTypeError) as info:
        typeof(text)
    assert message in info.value.message
    assert info.value.pos == pos
    assert info.value.text == text


def test_plain_identifiers_resolve_under_empty_alias_when_allowed() -> None:
    env = {"": {"x": F.INT}}
    assert check(parse("x + 1"), env, allow_plain_idents=True) is T.INT
    with pytest.raises(ExprTypeError, match="unknown field y"):
        check(parse("y"), env, allow_plain_idents=True)


def test_wfmodel_constants_only_when_enabled() -> None:
    env = {"nrs": {"run_status": F.INT, "run_is_current": F.BOOL, "node_status": F.INT, "run_id": F.INT}}
    rule = (
        "nrs.run_is_current == true && (nrs.run_status == wfmodel.RunStart || nrs.run_status == wfmodel.RunNone)"
        " && nrs.node_status == wfmodel.NodeBatchNone"
    )
    assert check(parse(rule), env, allow_wfmodel=True) is T.BOOL
    with pytest.raises(ExprTypeError, match="unknown field wfmodel.RunStart"):
        check(parse(rule), env)
    with pytest.raises(ExprTypeError, match="unknown constant wfmodel.RunBogus"):
        check(parse("wfmodel.RunBogus == 1"), env, allow_wfmodel=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sum(l.i)", T.INT),
        ("avg(r.d)", T.DECIMAL2),
        ("avg(float(l.i))", T.FLOAT),
        ("min(l.s)", T.STRING),
        ("max_if(r.f, r.f > 0)", T.FLOAT),
        ("count()", T.INT),
        ("count_if(r.b)", T.INT),
        ('string_agg(l.s, ",")', T.STRING),
        ('string_agg_if(l.s, "|", r.b)', T.STRING),
        ("sum(len(l.s))", T.INT),
    ],
)
def test_aggregate_types(text: str, expected: ExprType) -> None:
    assert typeof(text, allow_aggregates=True) is expected


@pytest.mark.parametrize(
    ("text", "allow", "message"),
    [
        ("sum(l.i)", False, "aggregate function sum() is not allowed here"),
        ("sum(l.i) * 2", True, "aggregate function sum() must be the whole expression"),
        ("(sum(l.i))", True, "must be the whole expression"),
        ("sum(l.i) + avg(l.i)", True, "must be the whole expression"),
        ("sum(max(l.i))", True, "aggregate function max() cannot be nested in sum()"),
        ("sum(l.s)", True, "argument 1 must be decimal2 or float or int"),
        ("min(r.b)", True, "argument 1 must be"),
        ("count(l.i)", True, "count(), requires 0 args, 1 supplied"),
        ("sum_if(l.i)", True, "sum_if(), requires 2 args, 1 supplied"),
        ("sum_if(l.i, l.i)", True, "argument 2 must be bool"),
        ("string_agg(l.s, `,`)", True, "separator must be a double-quoted string literal"),
        ("string_agg(l.s, l.s)", True, "separator must be a double-quoted string literal"),
    ],
)
def test_aggregate_placement_errors(text: str, allow: bool, message: str) -> None:
    with pytest.raises(ExprTypeError) as info:
        typeof(text, allow_aggregates=allow)
    assert message in info.value.message
