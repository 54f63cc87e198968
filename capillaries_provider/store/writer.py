"""Writing the rows of one batch into a run's data and index tables (spec 3.4, made idempotent).

Differences from Go, on purpose (DESIGN.md invariants): row ids are deterministic, `(batch_idx << 32) | seq`, and
data rows are plain inserts, so processing a batch again rewrites exactly the same rows instead of adding new ones
(Go draws random row ids and pays one LWT per row). Only unique indexes use `IF NOT EXISTS`; finding our own
rowid under the key means an earlier attempt of this batch wrote it, which is fine.

Plain inserts (data rows, non-unique index entries) travel in small UNLOGGED batches of statements whose
partitions share a primary replica: one request per ~10 statements instead of one each cuts the client's CPU per
row several-fold (the driver's per-request cost dominates in Python). Batches stay within Cassandra's default
warning thresholds (10 partitions, 5 KiB), so they are neither slow multi-node fan-outs nor log noise. Inserts
wait in a buffer (`PENDING_INSERTS` of them) and are sorted by partition before they are cut into batches: index
keys repeat (an account id per transaction), so one batch carries several entries of each of its partitions and
Cassandra applies one mutation per partition instead of one per entry (20% less Cassandra CPU on the load
benchmark). Unique index inserts are LWTs and go one by one.

Writes are asynchronous with at most `concurrency` requests in flight. Transient failures are retried with Go's
back-off (200 ms doubling, 5 attempts; 2 s for a table not yet known to the coordinator); other errors are
collected and raised by `flush()`, naming the table, the rowid and the row. Data and index inserts of a row are
issued together rather than data-first: nothing reads a node's tables before all its batches succeeded, and a
failed batch is rewritten as a whole.

distinct_table batches use `distinct_writer.DistinctRowWriter`, which claims unique keys before writing rows.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from cassandra.cluster import Session
from cassandra.marshal import int64_pack
from cassandra.query import BatchStatement, BatchType, BoundStatement

from capillaries_provider.expr.keys import row_key
from capillaries_provider.expr.types import Value
from capillaries_provider.script.names import validate_keyspace_name
from capillaries_provider.store.errors import DuplicateKeyError, RowWriteError
from capillaries_provider.store.session import prepare_cached
from capillaries_provider.store.tables import IndexSpec, TableSpec, run_table_name
from capillaries_provider.store.values import bind_bytes, to_cql_bytes
from capillaries_provider.store.window import Request, RequestWindow

MAX_ROWS_PER_BATCH = 1 << 32
# Cassandra's defaults: unlogged_batch_across_partitions_warn_threshold = 10, batch_size_warn_threshold = 5 KiB.
STATEMENTS_PER_BATCH = 10
BATCH_BYTES = 5 * 1024
PENDING_INSERTS = 4096


def make_rowid(batch_idx: int, seq: int) -> int:
    """Deterministic, non-negative row id of the `seq`-th row written by batch `batch_idx`."""
    if not 0 <= batch_idx < (1 << 31):
        raise ValueError(f"batch index {batch_idx} out of range for row ids")
    if not 0 <= seq < MAX_ROWS_PER_BATCH:
        raise ValueError(f"a batch cannot write more than {MAX_ROWS_PER_BATCH} rows")
    return (batch_idx << 32) | seq


@dataclass(frozen=True)
class WriteStats:
    rows: int
    retries: int
    elapsed_s: float


# What an error message needs of one insert: (table, rowid, index or None for the data row, key, row or None).
_Entry = tuple[str, int, "IndexSpec | None", str, "Mapping[str, Value] | None"]


# A plain insert waiting for its batch: (primary replica or None, table, partition key, bytes, statement, entry).
_Pending = tuple[object, str, "int | str", int, BoundStatement, _Entry]


def _describe(entry: _Entry) -> str:
    table, rowid, index, key, row = entry
    what = f"index {table} key {key!r}" if index is not None else f"table {table}"
    return f"{what} rowid {rowid}{_describe_row(row)}"


def _describe_row(row: Mapping[str, Value] | None) -> str:
    if row is None:
        return ""
    shown = ", ".join(f"{k}={str(v)[:80]!r}" for k, v in row.items())
    return f"; row: {{{shown}}}"


def _failure(exc: BaseException, attempts: int, what: str) -> RowWriteError:
    after = f" after {attempts + 1} attempts" if attempts else ""
    error = RowWriteError(f"insert failed{after}: {type(exc).__name__}: {exc}; {what}")
    error.__cause__ = exc
    return error


class _Insert(Request):
    """A single insert: a data row, an index entry, or (`unique`) a lightweight-transaction unique index entry."""

    __slots__ = ("entry",)

    def __init__(self, statement: BoundStatement, entry: _Entry) -> None:
        super().__init__(statement)
        self.entry = entry

    def check(self, rows: Any) -> BaseException | None:
        table, rowid, index, key, _ = self.entry
        if index is not None and index.unique and rows and not rows[0]["[applied]"]:
            existing = rows[0]["rowid"]
            if existing != rowid:  # our own rowid under the key: an earlier attempt of this batch wrote it
                return DuplicateKeyError(table, key, existing, rowid)
        return None

    def failure(self, exc: BaseException) -> BaseException:
        return _failure(exc, self.attempt, _describe(self.entry))


class _Batch(Request):
    """An UNLOGGED batch of plain inserts."""

    __slots__ = ("entries",)

    def __init__(self, statement: BatchStatement, entries: list[_Entry]) -> None:
        super().__init__(statement)
        self.entries = entries

    def failure(self, exc: BaseException) -> BaseException:
        rowids = sorted({e[1] for e in self.entries})
        first = next((e for e in self.entries if e[4] is not None), self.entries[0])
        what = f"batch of {len(self.entries)} inserts for rowids {rowids} (first: {_describe(first)})"
        return _failure(exc, self.attempt, what)


def partition_runs(items: Sequence[tuple[Hashable, int]], max_partitions: int, max_bytes: int) -> Iterator[range]:
    """Cut `(partition, size)` items, sorted by partition, into consecutive runs (future batches) that span at
    most `max_partitions` partitions and `max_bytes` bytes; an item larger than `max_bytes` is a run of its own."""
    start, partitions, size, last = 0, 0, 0, None
    for i, (partition, item_size) in enumerate(items):
        new_partition = i == start or partition != last
        if i > start and ((new_partition and partitions == max_partitions) or size + item_size > max_bytes):
            yield range(start, i)
            start, partitions, size, new_partition = i, 0, 0, True
        partitions += new_partition
        size += item_size
        last = partition
    if start < len(items):
        yield range(start, len(items))


class RowWriter:
    """Writes the rows of one batch of one node; use as a context manager or call `flush()` at the end."""

    def __init__(
        self,
        session: Session,
        ks: str,
        table: TableSpec,
        run_id: int,
        batch_idx: int,
        *,
        concurrency: int = 64,
        statements_per_batch: int = STATEMENTS_PER_BATCH,
    ) -> None:
        validate_keyspace_name(ks)
        self._rowid_base = make_rowid(batch_idx, 0)
        self._window = RequestWindow(session, concurrency)
        self._per_batch = max(1, statements_per_batch)
        self._ks = ks
        self._session = session
        # On a one-node cluster every partition has the same replica: no token lookup per statement.
        self._by_replica = self._per_batch > 1 and len(session.cluster.metadata.all_hosts()) > 1
        # Plain inserts waiting to be sorted by partition and cut into batches.
        self._pending: list[_Pending] = []
        self._batch_idx = batch_idx
        self._table = run_table_name(table.name, run_id)
        self._fields = list(table.fields)
        self._serializers = [to_cql_bytes(t) for t in table.fields.values()]
        self._batch_idx_bytes = int64_pack(batch_idx)
        columns = ", ".join(["rowid", "batch_idx", *self._fields])
        marks = ", ".join("?" * (len(self._fields) + 2))
        self._data_stmt = prepare_cached(session, f"INSERT INTO {ks}.{self._table} ({columns}) VALUES ({marks})")
        self._index_stmts = [
            (
                idx,
                run_table_name(idx.name, run_id),
                prepare_cached(
                    session,
                    f"INSERT INTO {ks}.{run_table_name(idx.name, run_id)} (key, rowid) VALUES (?, ?)"
                    + (" IF NOT EXISTS" if idx.unique else ""),
                ),
                row_key(idx.components),
            )
            for idx in table.indexes
        ]
        self._seq = 0
        self._written = 0
        self._started = time.monotonic()

    @property
    def table_name(self) -> str:
        return self._table

    def write(self, row: Mapping[str, Value]) -> int:
        """Queue the row and its index entries under the next row number; returns its rowid. Raises early once
        some write has failed."""
        rowid = self.write_at(self._seq, row)
        self._seq += 1
        return rowid

    def write_at(self, seq: int, row: Mapping[str, Value]) -> int:
        """Queue the row as row number `seq` of the batch (distinct_table numbers its candidates, and writes only
        the winners); returns its rowid."""
        if self._window.error_count:
            self._raise_errors()
        if not 0 <= seq < MAX_ROWS_PER_BATCH:
            make_rowid(self._batch_idx, seq)  # raises
        rowid = self._rowid_base | seq
        try:
            rowid_bytes = int64_pack(rowid)
            values = [rowid_bytes, self._batch_idx_bytes]
            values += [serialize(row[f]) for f, serialize in zip(self._fields, self._serializers, strict=True)]
            data = bind_bytes(self._data_stmt, values)
            index_inserts = []
            for idx, name, stmt, key_of in self._index_stmts:
                key = key_of(row)
                index_inserts.append((bind_bytes(stmt, [key.encode(), rowid_bytes]), (name, rowid, idx, key, None)))
        except (KeyError, TypeError, ValueError, OverflowError, struct.error) as exc:
            raise RowWriteError(
                f"cannot write row {rowid} to {self._table}: {type(exc).__name__}: {exc}{_describe_row(row)}"
            ) from exc
        self._written += 1
        self._add_plain(data, (self._table, rowid, None, "", row), rowid)
        for statement, entry in index_inserts:
            if entry[2] is not None and entry[2].unique:
                self._window.submit(_Insert(statement, entry))
            else:
                self._add_plain(statement, entry, entry[3])
        return rowid

    def flush(self) -> WriteStats:
        """Send what is still grouped, wait for every write; raise DuplicateKeyError or RowWriteError on failure."""
        self._send_pending()
        self._window.wait()
        if self._window.error_count:
            self._raise_errors()
        return WriteStats(
            rows=self._written,
            retries=self._window.retries,
            elapsed_s=time.monotonic() - self._started,
        )

    def __enter__(self) -> RowWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.flush()
        else:
            # Do not leave callbacks running against a writer the caller has given up on.
            self._pending.clear()
            self._window.wait()

    # -- internals ----------------------------------------------------------------------------------------------

    def _raise_errors(self) -> None:
        errors, count = self._window.errors, self._window.error_count
        dup = next((e for e in errors if isinstance(e, DuplicateKeyError)), None)
        if dup is not None:
            raise dup
        first = errors[0]
        if count == 1 and isinstance(first, RowWriteError):
            raise first
        more = f" (and {count - len(errors)} more)" if count > len(errors) else ""
        text = "; ".join(str(e) for e in errors)
        raise RowWriteError(f"{count} writes to {self._table} failed{more}: {text}") from first

    def _replica(self, statement: BoundStatement) -> object:
        token_map = self._session.cluster.metadata.token_map
        key = statement.routing_key
        if token_map is None or key is None:
            return None
        replicas = token_map.get_replicas(self._ks, token_map.token_class.from_key(key))
        return replicas[0] if replicas else None

    def _add_plain(self, statement: BoundStatement, entry: _Entry, partition: int | str) -> None:
        if self._per_batch == 1:
            self._window.submit(_Insert(statement, entry))
            return
        size = sum(map(len, filter(None, statement.values)))
        replica = self._replica(statement) if self._by_replica else None
        self._pending.append((replica, entry[0], partition, size, statement, entry))
        if len(self._pending) >= PENDING_INSERTS:
            self._send_pending()

    def _send_pending(self) -> None:
        """Sort the pending inserts by replica and partition; send them in batches of at most 10 partitions."""
        by_replica: dict[object, list[_Pending]] = {}
        for item in self._pending:
            by_replica.setdefault(item[0], []).append(item)
        self._pending = []
        for items in by_replica.values():
            items.sort(key=lambda item: (item[1], item[2]))
            for run in partition_runs([((item[1], item[2]), item[3]) for item in items], self._per_batch, BATCH_BYTES):
                if len(run) == 1:
                    self._window.submit(_Insert(items[run.start][4], items[run.start][5]))
                    continue
                batch = BatchStatement(batch_type=BatchType.UNLOGGED)
                for i in run:
                    batch.add(items[i][4])
                self._window.submit(_Batch(batch, [items[i][5] for i in run]))
