"""`w.top`: bounded selection of the smallest order keys, emitted in ascending key order."""

from __future__ import annotations

import random

from capillaries_provider.engine.top import TOP_LIMIT_MAX, TopByOrder, TopRows
from capillaries_provider.expr.keys import KeyComponent
from capillaries_provider.expr.types import FieldType


def test_keeps_smallest_keys_sorted_with_bounded_size() -> None:
    rng = random.Random(7)
    keys = [f"{rng.randrange(1000):04d}" for _ in range(5000)]
    top: TopRows[int] = TopRows(10)
    for i, k in enumerate(keys):
        top.add(k, i)
        assert len(top) <= 10
    expected = [i for _, i in sorted((k, i) for i, k in enumerate(keys))[:10]]
    assert top.sorted_items() == expected


def test_equal_keys_keep_arrival_order_and_earliest_survive() -> None:
    top: TopRows[str] = TopRows(3)
    for item in ["a1", "a2", "a3", "a4"]:
        top.add("a", item)
    top.add("0", "zero")
    assert top.sorted_items() == ["zero", "a1", "a2"]


def test_below_limit_sorts_everything_and_default_limit() -> None:
    top: TopRows[int] = TopRows(0)
    assert top.limit == TOP_LIMIT_MAX
    for i, k in enumerate(["b", "c", "a", "b"]):
        top.add(k, i)
    assert top.sorted_items() == [2, 0, 3, 1]


def test_keys_compare_bytewise_like_go_strings() -> None:
    # Capillaries keys are ASCII digits/hex/letters; desc components invert bytes, so "ff..." sorts last.
    top: TopRows[str] = TopRows(5)
    for k in ["-99999999999999999998", "000000000000000000005", "ab", "Z"]:
        top.add(k, k)
    assert top.sorted_items() == ["-99999999999999999998", "000000000000000000005", "Z", "ab"]


def test_top_by_order_uses_capillaries_keys() -> None:
    # order "n(desc), s": ints descending, ties by string ascending; limit 3.
    order = [KeyComponent("n", FieldType.INT, desc=True), KeyComponent("s", FieldType.STRING)]
    top = TopByOrder(order, 3)
    for n, s in [(1, "x"), (-5, "a"), (7, "b"), (7, "a"), (3, "z")]:
        top.add({"n": n, "s": s, "other": 0}, [n, s])
    assert top.sorted_rows() == [[7, "a"], [7, "b"], [3, "z"]]
