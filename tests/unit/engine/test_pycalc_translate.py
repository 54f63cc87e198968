"""py_calc translation and call checks (spec 7.1), on the expressions of the conformance scripts."""

from __future__ import annotations

import pytest

from capillaries_provider.engine.pycalc import PyCalcError, check_calls, python_expression
from capillaries_provider.engine.pycalc.translate import def_arities, translate_fields
from capillaries_provider.expr import parse
from capillaries_provider.expr.types import FieldType
from capillaries_provider.script.model import CalculatedField, Expression, PyCalcDef

PY_CALC_CODE = """from math import floor

def vanilla_function_with_no_params_for_testing_only():
    return 0

def increase_by_ten_percent(numeric_val):
    return floor(float(numeric_val) * 1.10 * 100)/100

def divide_by_three(numeric_val):
    return float(numeric_val) / 3

def paid_off_amount(original_upb, upb_at_issuance, payments_json):
  return 0

class Helper:
    def method(self, x):
        return x

def with_default(a, b=1):
    return a
"""


def _def(fields: dict[str, tuple[str, FieldType]], order: tuple[str, ...]) -> PyCalcDef:
    calc = {n: CalculatedField(n, t, Expression(text, parse(text))) for n, (text, t) in fields.items()}
    return PyCalcDef(("x.py",), calc, order)


@pytest.mark.parametrize(
    ("formula", "python"),
    [
        ("increase_by_ten_percent(r.value)", "increase_by_ten_percent(r_value)"),
        ("divide_by_three(divide_by_three(p.taxed_value))", "divide_by_three(divide_by_three(p_taxed_value))"),
        ("r.order_id", "r_order_id"),
        (
            "paid_off_amount(r.original_upb,r.upb_at_issuance,r.payments_json)",
            "paid_off_amount(r_original_upb,r_upb_at_issuance,r_payments_json)",
        ),
        (
            'txns_and_holdings_to_twr_cagr_by_sector_year_quarter_json("2021-01-01", "2022-12-31", r.holdings_json, '
            "r.txns_json, PortfolioTestEodPriceProvider, PortfolioTestCompanyInfoProvider)",
            'txns_and_holdings_to_twr_cagr_by_sector_year_quarter_json("2021-01-01", "2022-12-31", r_holdings_json, '
            "r_txns_json, PortfolioTestEodPriceProvider, PortfolioTestCompanyInfoProvider)",
        ),
        ("json_to_twr(r.perf_json, r.period, r.sector)", "json_to_twr(r_perf_json, r_period, r_sector)"),
        # Go's replacement is textual: it also rewrites `r.` inside identifiers (quirk 12).
        ("str.lower(r.x)", "str_lower(r_x)"),
        ('f("p.q")', 'f("p_q")'),
    ],
)
def test_translation_is_textual_like_go(formula: str, python: str) -> None:
    assert python_expression(formula) == python


def test_def_regex_counts_parameters_and_skips_methods_and_defaults() -> None:
    arities = def_arities(PY_CALC_CODE)
    assert arities["vanilla_function_with_no_params_for_testing_only"] == {0}
    assert arities["increase_by_ten_percent"] == {1}
    assert arities["paid_off_amount"] == {3}
    assert "method" not in arities  # indented: not top level
    assert "with_default" not in arities  # `=` is outside Go's allowed characters


def test_known_calls_pass() -> None:
    fields = [
        ("taxed", parse("increase_by_ten_percent(r.value)")),
        ("nine", parse("divide_by_three(divide_by_three(p.taxed))")),
        ("rounded", parse("round(divide_by_three(r.v))")),
        ("plain", parse("r.order_id")),
    ]
    assert check_calls(fields, PY_CALC_CODE) == []


def test_unknown_function_wrong_arity_and_builtin_arity_are_reported() -> None:
    fields = [
        ("a", parse("nope(r.x)")),
        ("b", parse("increase_by_ten_percent(r.x, r.y)")),
        ("c", parse("round(r.x, 2)")),
        ("d", parse("with_default(r.x)")),
        ("e", parse("divide_by_three(math.floor(r.x))")),
    ]
    problems = check_calls(fields, PY_CALC_CODE)
    assert len(problems) == 5
    assert problems[0].startswith("p.a: nope() is called with 1 argument(s) but no top-level `def`")
    assert "p.b: increase_by_ten_percent() is called with 2 argument(s) but the code defines" in problems[1]
    assert "with 1 parameter(s)" in problems[1]
    assert problems[2].startswith("p.c: round() is called with 2 argument(s)")
    assert problems[4].startswith("p.e: math.floor()")


def test_translate_fields_keeps_calc_order_and_raises_with_every_problem() -> None:
    proc = _def(
        {
            "nine": ("divide_by_three(p.taxed)", FieldType.FLOAT),
            "taxed": ("increase_by_ten_percent(r.value)", FieldType.DECIMAL2),
        },
        ("taxed", "nine"),
    )
    fields = translate_fields(proc, PY_CALC_CODE)
    assert [f.name for f in fields] == ["taxed", "nine"]
    assert fields[1].python == "divide_by_three(p_taxed)"
    assert fields[1].formula == "divide_by_three(p.taxed)"
    bad = _def({"x": ("missing1(r.a)", FieldType.INT), "y": ("missing2(r.b)", FieldType.INT)}, ("x", "y"))
    with pytest.raises(PyCalcError, match=r"missing1\(\).*missing2\(\)"):
        translate_fields(bad, PY_CALC_CODE)
