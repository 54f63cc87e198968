"""table_lookup_table join logic (spec 6.4) with in-memory fakes; expected rows derived by hand from the spec."""

from __future__ import annotations

from decimal import Decimal

import pytest
from lookup_fixtures import LEFT, RIGHT, FakeLookupReads, lookup_node, lookup_script, order_id_reads

from capillaries_provider.engine.lookup import LookupJoin, LookupJoinError
from capillaries_provider.expr.keys import build_key
from capillaries_provider.expr.types import INT64_MAX

IDX = "idx_items_to_check_uniq_order_id"


def _join(node: dict[str, object], *, name: str = "n") -> tuple[LookupJoin, FakeLookupReads]:
    script = lookup_script({name: node})
    return LookupJoin.for_node(script, script.nodes[name]), order_id_reads(script)


NON_GROUPED_LEFT = lookup_node(
    {"index_name": IDX, "join_on": "r.order_id", "join_type": "left", "filter": "l.qty > 0"},
    {
        "order_id": {"expression": "r.order_id", "type": "string"},
        "region": {"expression": "r.region", "type": "string"},
        "product": {"expression": "l.product", "type": "string", "default_value": "none"},
        "third": {"expression": "l.price / 3", "type": "decimal2", "default_value": "1.005"},
        "both": {"expression": "r.region + l.product", "type": "string"},
    },
)


def test_non_grouped_left_join_pairs_then_unmatched_rows_with_defaults() -> None:
    join, reads = _join(NON_GROUPED_LEFT)
    rows = list(join.join_page(LEFT, reads))
    # Matches in key order, then rowid order (10 before 11; orphan 99 ignored); both o1 left rows per right row.
    assert [(r["order_id"], r["region"], r["product"], r["third"], r["both"]) for r in rows] == [
        ("o1", "EU", "pen", Decimal("3.33"), "EUpen"),  # 10.00/3 -> 16 digits -> round-dec 2
        ("o1", "XX", "pen", Decimal("3.33"), "XXpen"),
        ("o1", "EU", "ink", Decimal("0.42"), "EUink"),
        ("o1", "XX", "ink", Decimal("0.42"), "XXink"),
        # o2 has no entry; o3's only right row fails the filter: both are unmatched. Fields reading l.* get their
        # default_value ("" when absent); 1.005 becomes round(1.005*100 in float64 = 100.4999...) / 100 = 1.00.
        ("o2", "US", "none", Decimal("1.00"), ""),
        ("o3", "EU", "none", Decimal("1.00"), ""),
    ]


def test_reads_are_batched_per_page_and_paged_by_the_read_batch_sizes() -> None:
    join, reads = _join(NON_GROUPED_LEFT)
    expected = list(join.join_page(LEFT, reads))
    assert reads.index_calls == [[join.left_key(LEFT[0]), join.left_key(LEFT[1]), join.left_key(LEFT[2])]]
    assert reads.row_calls == [[10, 11, 99, 12]]

    small = {
        **NON_GROUPED_LEFT,
        "l": {**NON_GROUPED_LEFT["l"], "idx_read_batch_size": 1, "right_lookup_read_batch_size": 1},
    }
    join_small, reads_small = _join(small)
    assert list(join_small.join_page(LEFT, reads_small)) == expected
    assert reads_small.index_calls == [[k] for k in reads.index_calls[0]]
    assert reads_small.row_calls == [[10], [11], [99], [12]]


def test_non_grouped_inner_join_with_having() -> None:
    node = lookup_node(
        {"index_name": IDX, "join_on": "r.order_id", "join_type": "inner"},
        {
            "order_id": {"expression": "r.order_id", "type": "string"},
            "qty_x": {"expression": "l.qty * 1", "type": "int"},
        },
        having="w.qty_x > 4",
    )
    join, reads = _join(node)
    # Pairs: o1 x (10: qty 2, 11: qty 5) for two left rows, o3 x 12 (qty 0); having keeps qty 5 only.
    assert list(join.join_page(LEFT, reads)) == [{"order_id": "o1", "qty_x": 5}, {"order_id": "o1", "qty_x": 5}]


GROUPED_LEFT = lookup_node(
    {"index_name": IDX, "join_on": "r.order_id", "join_type": "left", "group": True, "filter": "l.qty > 0"},
    {
        "order_id": {"expression": "r.order_id", "type": "string"},
        "n": {"expression": "count()", "type": "int", "default_value": "-7"},
        "total": {"expression": "sum(l.price)", "type": "decimal2"},
        "avg_price": {"expression": "avg(l.price)", "type": "decimal2"},
        "products": {"expression": 'string_agg(l.product, ",")', "type": "string", "default_value": "n/a"},
        "big_min": {"expression": "min_if(l.qty, l.qty > 100)", "type": "int"},
        "max_qty": {"expression": "max(l.qty)", "type": "int"},
    },
)


def test_grouped_left_join_aggregates_and_defaults() -> None:
    join, reads = _join(GROUPED_LEFT)
    rows = list(join.join_page(LEFT, reads))
    o1 = {
        "n": 2,
        "total": Decimal("11.25"),
        "avg_price": Decimal("5.63"),  # 11.25 / 2 = 5.625 -> half away from zero
        "products": "pen,ink",  # rowid order
        "big_min": INT64_MAX,  # min_if never true: the sentinel leaks (quirk 5)
        "max_qty": 5,
    }
    unmatched = {
        "n": -7,
        "total": Decimal("0.00"),
        "avg_price": Decimal("0.00"),
        "products": "n/a",
        "big_min": 0,
        "max_qty": 0,
    }
    # One row per left row, in page order; o3 counts as unmatched because its only right row is filtered out.
    assert rows == [
        {"order_id": "o1", **o1},
        {"order_id": "o2", **unmatched},
        {"order_id": "o3", **unmatched},
        {"order_id": "o1", **o1},
    ]


def test_grouped_inner_join_non_aggregate_fields_take_the_last_unrounded_value() -> None:
    node = lookup_node(
        {"index_name": IDX, "join_on": "r.order_id", "join_type": "inner", "group": True},
        {
            "order_id": {"expression": "r.order_id", "type": "string"},
            "third": {"expression": "l.price / 3", "type": "decimal2"},
            "const": {"expression": '"k"', "type": "string"},
            "cnt": {"expression": "count()", "type": "int"},
        },
    )
    join, reads = _join(node)
    rows = list(join.join_page(LEFT, reads))
    # o1: rows 10 then 11, last wins: 1.25/3 at 16 digits, not rounded in this context; o3's qty-0 row counts
    # (no filter here); o2 has no match and the join is inner.
    last_o1 = {"order_id": "o1", "third": Decimal("0.4166666666666667"), "const": '"k"', "cnt": 2}
    assert rows == [last_o1, {"order_id": "o3", "third": Decimal("1"), "const": '"k"', "cnt": 1}, last_o1]


def test_grouped_left_join_fails_on_a_non_aggregate_l_field_of_an_unmatched_row() -> None:
    node = lookup_node(
        {"index_name": IDX, "join_on": "r.order_id", "join_type": "left", "group": True},
        {
            "order_id": {"expression": "r.order_id", "type": "string"},
            "product": {"expression": "l.product", "type": "string"},
        },
    )
    join, reads = _join(node)
    assert list(join.join_page([LEFT[0]], reads)) == [{"order_id": "o1", "product": "ink"}]
    with pytest.raises(LookupJoinError, match=r"field product \('l.product'\) reads l.\* but is not an aggregate"):
        list(join.join_page(LEFT, reads))


def test_multi_field_join_builds_the_key_positionally_from_join_on() -> None:
    node = lookup_node(
        {"index_name": "idx_items_to_check_uniq_order_product", "join_on": "r.order_id,r.region", "join_type": "inner"},
        {
            "order_id": {"expression": "r.order_id", "type": "string"},
            "price": {"expression": "l.price", "type": "decimal2"},
        },
    )
    script = lookup_script({"n": node})
    join = LookupJoin.for_node(script, script.nodes["n"])
    _, idx = script.index("idx_items_to_check_uniq_order_product")
    # The index fields are (order_id, product); the left row's `region` value fills the `product` position.
    reads = FakeLookupReads({build_key(["o1", "XX"], idx.components): [11]}, RIGHT)
    assert list(join.join_page(LEFT, reads)) == [{"order_id": "o1", "price": Decimal("1.25")}]
    assert join.left_fields.keys() == {"order_id", "region"}
    assert join.right_fields.keys() == {"price"}


def test_field_errors_name_the_field_and_the_left_row() -> None:
    node = lookup_node(
        {"index_name": IDX, "join_on": "r.order_id", "join_type": "inner"},
        {"ratio": {"expression": "l.qty / (l.qty - l.qty)", "type": "int"}},
    )
    join, reads = _join(node)
    with pytest.raises(LookupJoinError, match=r"field ratio .* for left row \{order_id='o1', region='EU'\}: .*zero"):
        list(join.join_page(LEFT, reads))
