"""What a processor gets to work on one batch, and what it reports back."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from capillaries_provider.engine.ports import BatchTask, DataStore
from capillaries_provider.script.model import Node, Script

W = TypeVar("W")


class Flushes(Protocol):
    """A sink with writes in flight (RowSink, DistinctSink)."""

    def flush(self) -> object: ...


class BatchError(Exception):
    """A batch cannot be completed; the message names the node, the batch and, where known, file/line/field."""


@dataclass(frozen=True)
class BatchJob:
    """One batch to process: the task, the loaded script and node, and which runs' tables to read.

    `reader_run_id` / `lookup_run_id` come from the dependency check (spec 5.5); 0 when the node has no such input.
    """

    task: BatchTask
    script: Script
    node: Node
    data: DataStore
    reader_run_id: int = 0
    lookup_run_id: int = 0
    heartbeat: Callable[[], None] = field(default=lambda: None)


@dataclass(frozen=True)
class BatchStats:
    """Counts behind the success comment of a batch (spec 5.4)."""

    source: str
    target: str
    rows_read: int
    rows_written: int
    elapsed_s: float

    def comment(self) -> str:
        """`elapsed: 0.123 s; src -> dst; row_reads: N, R r/s; row_writes: N, R r/s` (Go's stats line, shortened)."""
        secs = max(self.elapsed_s, 1e-9)
        return (
            f"elapsed: {self.elapsed_s:.3f} s; {self.source} -> {self.target}; "
            f"row_reads: {self.rows_read}, {self.rows_read / secs:.0f} r/s; "
            f"row_writes: {self.rows_written}, {self.rows_written / secs:.0f} r/s"
        )


@contextlib.contextmanager
def writing(sink: Flushes, write: W) -> Iterator[W]:
    """Yield `write` (sink.write or an adapter of it) and flush the sink at the end; on failure still wait for
    in-flight writes, but report the original error."""
    try:
        yield write
    except BaseException:
        with contextlib.suppress(Exception):
            sink.flush()
        raise
    sink.flush()
