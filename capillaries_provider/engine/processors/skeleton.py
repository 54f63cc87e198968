"""The one loop of the table-reading processors (spec 6): read a page of the batch's token range, transform it,
write what comes out, heartbeat; then report the batch's counts.

Each processor supplies only what differs: the `r.*` fields to select, a `PageTransform` (per-row expressions, a
lookup join, a custom processor, distinct claims), and the output (table rows, distinct rows, a file) as a context
manager yielding the per-item write. The per-row loop stays in the transform, so a row costs one generator step
more than a hand-written loop and nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TypeVar

from capillaries_provider.engine.processors.context import BatchError, BatchJob, BatchStats
from capillaries_provider.engine.processors.rows import RowEvalError
from capillaries_provider.expr import Vars
from capillaries_provider.expr.types import FieldType, Value

Row = Mapping[str, Value]
T = TypeVar("T")
PageTransform = Callable[[Sequence[Row], int], Iterable[T]]
"""(page, number of the batch's rows before it) -> the items to write for that page."""


def run_pages(
    job: BatchJob,
    fields: Mapping[str, FieldType],
    transform: PageTransform[T],
    output: AbstractContextManager[Callable[[T], object]],
    *,
    source: str,
    target: str,
    rest: Callable[[], Iterable[T]] | None = None,
) -> BatchStats:
    """Run one batch of a node with a table reader; `rest` yields items held back until all pages are read (top)."""
    reader, task = job.node.table_reader, job.task
    assert reader is not None
    started = time.monotonic()
    read = written = 0
    pages = job.data.read_token_range(
        task.ks, reader.table, job.reader_run_id, fields, task.first_token, task.last_token, reader.rowset_size
    )
    with output as write:
        for page in pages:
            offset = read
            read += len(page)
            for item in transform(page, offset):
                write(item)
                written += 1
            job.heartbeat()
        if rest is not None:
            for item in rest():
                write(item)
                written += 1
    return BatchStats(source, target, read, written, time.monotonic() - started)


def each_row(build: Callable[[Vars], T | None], place: Callable[[int], str]) -> PageTransform[T]:
    """`build({"r": row})` per row, skipping rows it drops (`having`); a failing row fails the batch, named by
    `place(row number in the batch)`."""

    def transform(page: Sequence[Row], offset: int) -> Iterator[T]:
        for n, row in enumerate(page, offset + 1):
            try:
                out = build({"r": row})
            except RowEvalError as e:
                raise BatchError(f"{place(n)}: {e}") from e
            if out is not None:
                yield out

    return transform
