"""Token-range paging (spec 3.5) against an in-memory fake of the one SELECT it issues.

Real bigint rowids practically never share a Murmur3 token, so the epilogue logic (several rows with the same token
straddling a page boundary) is exercised here with crafted tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from capillaries_provider.expr.types import FieldType
from capillaries_provider.store.reader import read_token_range


class _Bound:
    def __init__(self, params: Sequence[Any]) -> None:
        self.params = params
        self.fetch_size: int | None = None


class _Prepared:
    def bind(self, params: Sequence[Any]) -> _Bound:
        return _Bound(params)


class FakeSession:
    """Rows `(rowid, token, n)` served in (token, rowid) order like Cassandra's partitioner order."""

    def __init__(self, rows: list[tuple[int, int, int]]) -> None:
        self.rows = sorted(rows, key=lambda r: (r[1], r[0]))
        self.queries = 0

    def prepare(self, cql: str) -> _Prepared:
        assert "token(rowid) >= ? AND token(rowid) <= ? LIMIT ?" in cql
        return _Prepared()

    def execute(self, bound: _Bound, execution_profile: str) -> list[tuple[int, int, int]]:
        self.queries += 1
        start, end, limit = bound.params
        assert bound.fetch_size == limit
        return [r for r in self.rows if start <= r[1] <= end][:limit]


def _read(session: FakeSession, first: int, last: int, rowset: int) -> list[list[int]]:
    pages = read_token_range(session, "ks", "t_00001", {"n": FieldType.INT}, first, last, rowset)  # type: ignore[arg-type]
    return [[row["n"] for row in page] for page in pages]  # type: ignore[misc]


@pytest.mark.parametrize("rowset", [1, 2, 3, 4, 7])
def test_rows_sharing_tokens_across_page_boundaries_are_read_once(rowset: int) -> None:
    tokens = [-5, -5, -5, 0, 3, 3, 3, 3, 8, 9, 9]
    rows = [(100 + i, t, i) for i, t in enumerate(tokens)]
    pages = _read(FakeSession(rows), -10, 10, rowset)
    flat = [n for page in pages for n in page]
    assert sorted(flat) == list(range(len(tokens)))
    assert all(1 <= len(p) <= rowset for p in pages)


def test_range_bounds_are_inclusive_and_respected() -> None:
    rows = [(1, -3, 0), (2, -2, 1), (3, 2, 2), (4, 3, 3)]
    assert [n for p in _read(FakeSession(rows), -2, 2, 1) for n in p] == [1, 2]


def test_short_page_ends_the_scan_without_an_extra_query() -> None:
    session = FakeSession([(1, 0, 0), (2, 1, 1)])
    assert _read(session, -10, 10, 5) == [[0, 1]]
    assert session.queries == 1


def test_empty_range() -> None:
    assert _read(FakeSession([]), 0, 10, 3) == []
