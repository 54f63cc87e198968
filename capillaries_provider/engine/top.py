"""`w.top` of table_file nodes: keep the `limit` rows with the smallest order keys, then emit them sorted.

Capillaries builds each row's order key with `BuildKey` over the file columns (so `desc` components sort through
their inverted-byte encoding) and keeps a bounded heap, so memory is O(limit) whatever the batch size. Rows with
equal keys keep their arrival order (Go's heap leaves that order unspecified; stable is the natural choice).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from typing import Generic, TypeVar

from capillaries_provider.expr.keys import KeyComponent, build_key
from capillaries_provider.expr.types import Value
from capillaries_provider.script.model import TOP_LIMIT_MAX

T = TypeVar("T")


class _Largest(Generic[T]):
    """Heap entry ordered in reverse, so `heapq`'s min-heap keeps the largest (key, seq) on top."""

    __slots__ = ("item", "key", "seq")

    def __init__(self, key: str, seq: int, item: T) -> None:
        self.key = key
        self.seq = seq
        self.item = item

    def __lt__(self, other: _Largest[T]) -> bool:
        return (self.key, self.seq) > (other.key, other.seq)


class TopRows(Generic[T]):
    """Bounded collection of the `limit` items with the smallest keys.

    Until `limit` items have arrived they are only appended (the common case needs one sort at the end); after
    that a heap evicts the current largest whenever a smaller key comes in.
    """

    def __init__(self, limit: int) -> None:
        """`limit` <= 0 means the maximum, as `w.top.limit` does."""
        self.limit = TOP_LIMIT_MAX if limit <= 0 else limit
        self._seq = 0
        self._items: list[tuple[str, int, T]] = []
        self._heap: list[_Largest[T]] | None = None

    def __len__(self) -> int:
        return len(self._heap) if self._heap is not None else len(self._items)

    def add(self, key: str, item: T) -> None:
        seq = self._seq
        self._seq += 1
        heap = self._heap
        if heap is None:
            self._items.append((key, seq, item))
            if len(self._items) >= self.limit:
                heap = [_Largest(k, s, i) for k, s, i in self._items]
                heapq.heapify(heap)
                self._heap = heap
                self._items = []
            return
        if key < heap[0].key:
            heapq.heapreplace(heap, _Largest(key, seq, item))

    def sorted_items(self) -> list[T]:
        """The kept items in ascending key order (arrival order among equal keys)."""
        heap = self._heap
        entries = list(self._items) if heap is None else [(e.key, e.seq, e.item) for e in heap]
        entries.sort(key=lambda e: (e[0], e[1]))
        return [item for _, _, item in entries]


class TopByOrder:
    """TopRows keyed by Capillaries' order key over a row's column values (`w.top.order`)."""

    def __init__(self, order: Sequence[KeyComponent], limit: int) -> None:
        self._order = tuple(order)
        self._rows: TopRows[Sequence[Value]] = TopRows(limit)

    def add(self, columns: Mapping[str, Value], row: Sequence[Value]) -> None:
        """`columns` gives the values by column name (for the key); `row` is what will be written."""
        self._rows.add(build_key([columns[c.field] for c in self._order], self._order), row)

    def __len__(self) -> int:
        return len(self._rows)

    def sorted_rows(self) -> list[Sequence[Value]]:
        return self._rows.sorted_items()
