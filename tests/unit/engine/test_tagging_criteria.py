"""tag_and_denormalize (spec 7.2) with the conformance criteria; expected tags from the Go baseline file."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from capillaries_provider.engine.tagging import Tagger, TaggingError
from capillaries_provider.expr import parse
from capillaries_provider.expr.types import FieldType, Value
from capillaries_provider.script.model import Expression
from tests.conftest import CONFORMANCE, needs_shared

CASE = CONFORMANCE / "tag_and_denormalize_quicktest" / "test" / "data"
CRITERIA = CASE / "cfg" / "tag_and_denormalize" / "tag_criteria.json"
PRODUCTS = CASE / "in" / "tag_and_denormalize" / "flipcart_products.tsv"
READER = {
    "product_id": FieldType.INT,
    "name": FieldType.STRING,
    "category_tree": FieldType.STRING,
    "price": FieldType.DECIMAL2,
    "product_spec": FieldType.STRING,
}


def _criteria() -> dict[str, Expression]:
    raw = json.loads(CRITERIA.read_text(encoding="utf-8"))
    return {tag: Expression(text, parse(text)) for tag, text in raw.items()}


def _products(n: int) -> list[dict[str, Value]]:
    lines = PRODUCTS.read_text(encoding="utf-8").splitlines()[1 : n + 1]
    out: list[dict[str, Value]] = []
    for line in lines:
        pid, name, tree, price, spec = line.split("\t")
        out.append(
            {"product_id": int(pid), "name": name, "category_tree": tree, "price": Decimal(price), "product_spec": spec}
        )
    return out


@needs_shared(CRITERIA, PRODUCTS)
def test_conformance_criteria_tag_the_first_products_like_the_go_baseline() -> None:
    tagger = Tagger("tag_products", "tag", _criteria(), READER)
    got = {row["product_id"]: tagger.tags(row) for row in _products(8)}
    # tagged_products_for_operator_review_baseline.csv lines for product ids 1..8.
    assert got == {
        1: ["boys"],
        2: ["boys"],
        3: ["boys", "diving"],  # criteria order as written in the file
        4: [],  # casual, but not footwear
        5: ["boys"],  # engagement occasion but no diamond
        6: ["engagement"],
        7: ["engagement"],
        8: ["engagement"],
    }
    assert set(tagger.reader_fields) == {"product_spec", "category_tree", "price"}


@needs_shared(CRITERIA, PRODUCTS)
def test_denormalize_emits_one_var_map_per_tag() -> None:
    tagger = Tagger("tag_products", "tag", _criteria(), READER)
    row = _products(3)[2]
    assert list(tagger.denormalize(row)) == [{"r": row, "p": {"tag": "boys"}}, {"r": row, "p": {"tag": "diving"}}]


def test_inline_criteria_like_portfolio() -> None:
    criteria = {
        tag: Expression(text, parse(text))
        for tag, text in {
            "2021": 're.MatchString(`"2021":`, r.perf_json)',
            "2021Q1": 're.MatchString(`"2021Q1":`, r.perf_json)',
            "2022": 're.MatchString(`"2022":`, r.perf_json)',
        }.items()
    }
    tagger = Tagger("5_tag_by_period", "period", criteria, {"perf_json": FieldType.STRING})
    assert tagger.tags({"perf_json": '{"2021":{},"2021Q1":{}}'}) == ["2021", "2021Q1"]
    assert tagger.tags({"perf_json": "{}"}) == []


def test_a_criterion_must_be_a_bool_expression() -> None:
    not_bool = {"x": Expression("r.price", parse("r.price"))}
    with pytest.raises(TaggingError, match="tag 'x': criterion 'r.price' must be a bool expression"):
        Tagger("n", "tag", not_bool, READER)


@needs_shared(PRODUCTS)
def test_runtime_failure_names_the_tag_and_the_row() -> None:
    bad = {"t": Expression("int(r.name) > 0", parse("int(r.name) > 0"))}
    tagger = Tagger("n", "tag", bad, READER)
    with pytest.raises(TaggingError, match=r"tag 't': criterion 'int\(r.name\) > 0' failed for row \{product_id=1"):
        tagger.tags(_products(1)[0])
