"""RowWriter behaviour with a fake driver session: window bound, retries, error reporting, unique keys.

The fake hands out real driver PreparedStatements and decodes what the writer bound; it does not take driver batches,
so these run with `statements_per_batch=1`; batching is covered by the integration tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from cassandra import InvalidRequest, OperationTimedOut
from cassandra.cqltypes import LongType, UTF8Type
from cassandra.protocol import ColumnMetadata
from cassandra.query import BoundStatement, PreparedStatement

from capillaries_provider.expr.keys import KeyComponent
from capillaries_provider.expr.types import FieldType
from capillaries_provider.store.errors import DuplicateKeyError, RowWriteError
from capillaries_provider.store.tables import IndexSpec, TableSpec
from capillaries_provider.store.writer import RowWriter, make_rowid, partition_runs

Responder = Callable[[str, Sequence[Any]], Any]


_CQL_TYPES = {"rowid": LongType, "batch_idx": LongType, "id": LongType, "key": UTF8Type, "name": UTF8Type}


def _prepared(cql: str) -> PreparedStatement:
    """A driver PreparedStatement for an `INSERT INTO ks.table (cols) VALUES ...` (what the server would return)."""
    table = cql.split()[2].split(".")[1]
    columns = cql[cql.index("(") + 1 : cql.index(")")].split(", ")
    metadata = [ColumnMetadata("ks", table, c, _CQL_TYPES[c]) for c in columns]
    return PreparedStatement(metadata, cql.encode(), [0], cql, "ks", 5, None, None)


def _decoded(statement: BoundStatement) -> tuple[str, list[Any]]:
    """The CQL and the values the writer bound, decoded back from their serialized bytes."""
    prepared = statement.prepared_statement
    values = [c.type.deserialize(v, 5) for c, v in zip(prepared.column_metadata, statement.values, strict=True)]
    return prepared.query_string, values


class _Future:
    def __init__(self) -> None:
        self.callbacks: tuple[Any, ...] = ()

    def add_callbacks(self, cb: Any, eb: Any, callback_args: tuple = (), errback_args: tuple = ()) -> None:
        self.callbacks = (cb, eb, callback_args, errback_args)


class FakeSession:
    """Completes every statement on a background thread after `latency_s`; `respond` returns rows or raises."""

    def __init__(self, respond: Responder, latency_s: float = 0.001) -> None:
        self.respond = respond
        self.latency_s = latency_s
        self.in_flight = 0
        self.max_in_flight = 0
        self.executed: list[tuple[str, list[Any]]] = []
        self.lock = threading.Lock()

    def prepare(self, cql: str) -> PreparedStatement:
        return _prepared(cql)

    def execute_async(self, bound: BoundStatement) -> _Future:
        statement = _decoded(bound)
        future = _Future()
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.executed.append(statement)
        threading.Thread(target=self._complete, args=(future, statement)).start()
        return future

    def _complete(self, future: _Future, statement: tuple[str, list[Any]]) -> None:
        time.sleep(self.latency_s)
        while not future.callbacks:
            time.sleep(0.0005)
        cb, eb, cargs, eargs = future.callbacks
        with self.lock:
            self.in_flight -= 1
        try:
            rows = self.respond(*statement)
        except Exception as exc:
            eb(exc, *eargs)
        else:
            cb(rows, *cargs)


SPEC = TableSpec(
    "t",
    {"id": FieldType.INT, "name": FieldType.STRING},
    (
        IndexSpec("idx_t_id", True, (KeyComponent("id", FieldType.INT),)),
        IndexSpec("idx_t_name", False, (KeyComponent("name", FieldType.STRING, str_len=16),)),
    ),
)


def ok(cql: str, params: Sequence[Any]) -> Any:
    return [{"[applied]": True}] if "IF NOT EXISTS" in cql else []


def test_rowids_are_batch_and_sequence() -> None:
    assert make_rowid(0, 0) == 0
    assert make_rowid(3, 5) == 3 * 2**32 + 5
    with pytest.raises(ValueError):
        make_rowid(-1, 0)
    with pytest.raises(ValueError):
        make_rowid(0, 2**32)


def test_statements_and_window_bound() -> None:
    session = FakeSession(ok, latency_s=0.005)
    with RowWriter(session, "ks", SPEC, 7, 2, concurrency=4, statements_per_batch=1) as w:  # type: ignore[arg-type]
        ids = [w.write({"id": i, "name": f"n{i}"}) for i in range(40)]
    stats = w.flush()
    assert ids == [make_rowid(2, i) for i in range(40)]
    tables = [c.split()[2] for c, _ in session.executed]
    assert stats.rows == 40
    assert {t: tables.count(t) for t in set(tables)} == {
        "ks.t_00007": 40,
        "ks.idx_t_id_00007": 40,
        "ks.idx_t_name_00007": 40,
    }
    assert session.max_in_flight <= 4
    data = [p for c, p in session.executed if c.startswith("INSERT INTO ks.t_00007 ")]
    assert data[0] == [make_rowid(2, 0), 2, 0, "n0"]
    cqls = {c for c, _ in session.executed}
    assert "INSERT INTO ks.idx_t_id_00007 (key, rowid) VALUES (?, ?) IF NOT EXISTS" in cqls
    assert "INSERT INTO ks.idx_t_name_00007 (key, rowid) VALUES (?, ?)" in cqls


def test_transient_errors_are_retried() -> None:
    failures = {"left": 2}

    def flaky(cql: str, params: Sequence[Any]) -> Any:
        if cql.startswith("INSERT INTO ks.t_00001 ") and failures["left"]:
            failures["left"] -= 1
            raise OperationTimedOut("timed out")
        return ok(cql, params)

    with RowWriter(FakeSession(flaky), "ks", SPEC, 1, 0, statements_per_batch=1) as w:  # type: ignore[arg-type]
        w.write({"id": 1, "name": "a"})
    assert w.flush().retries == 2


def test_permanent_error_names_table_rowid_and_row() -> None:
    def broken(cql: str, params: Sequence[Any]) -> Any:
        if cql.startswith("INSERT INTO ks.t_00001 ") and params[2] == 2:
            raise InvalidRequest("Undefined column name name")
        return ok(cql, params)

    w = RowWriter(FakeSession(broken), "ks", SPEC, 1, 0, statements_per_batch=1)  # type: ignore[arg-type]
    with pytest.raises(RowWriteError) as info:  # raised by flush() or, once the error is known, by write()
        for i in range(4):
            w.write({"id": i, "name": f"n{i}"})
        w.flush()
    text = str(info.value)
    assert "table t_00001" in text and f"rowid {make_rowid(0, 2)}" in text
    assert "Undefined column name name" in text and "id='2'" in text and "name='n2'" in text
    with pytest.raises(RowWriteError):
        w.write({"id": 9, "name": "x"})


def test_bad_value_fails_immediately_with_field_context() -> None:
    w = RowWriter(FakeSession(ok), "ks", SPEC, 1, 0, statements_per_batch=1)  # type: ignore[arg-type]
    with pytest.raises(RowWriteError, match="KeyError: 'name'"):
        w.write({"id": 1})


def unique_taken_by(owner: Callable[[str], int | None]) -> Responder:
    def respond(cql: str, params: Sequence[Any]) -> Any:
        if "IF NOT EXISTS" in cql:
            existing = owner(params[0])
            if existing is not None:
                return [{"[applied]": False, "key": params[0], "rowid": existing}]
        return ok(cql, params)

    return respond


def test_duplicate_unique_key_raises_but_own_rowid_is_accepted() -> None:
    key_of_1 = "0" + "1".zfill(20)
    w = RowWriter(
        FakeSession(unique_taken_by(lambda k: 555 if k == key_of_1 else None)), "ks", SPEC, 1, 0, statements_per_batch=1
    )  # type: ignore[arg-type]
    w.write({"id": 1, "name": "a"})
    with pytest.raises(DuplicateKeyError) as info:
        w.flush()
    assert (info.value.key, info.value.existing_rowid, info.value.new_rowid) == (key_of_1, 555, 0)

    w = RowWriter(FakeSession(unique_taken_by(lambda k: 0)), "ks", SPEC, 1, 0, statements_per_batch=1)  # type: ignore[arg-type]
    w.write({"id": 1, "name": "a"})
    assert w.flush().rows == 1


def test_partition_runs_cut_sorted_entries_at_ten_partitions_or_the_byte_limit() -> None:
    def runs(items: list[tuple[str, int]], parts: int = 3, max_bytes: int = 100) -> list[list[int]]:
        return [list(r) for r in partition_runs(items, parts, max_bytes)]

    # Repeated partitions ride along: a run ends only when a 4th partition would start.
    assert runs([("a", 1), ("a", 1), ("b", 1), ("c", 1), ("c", 1), ("d", 1), ("d", 1)]) == [[0, 1, 2, 3, 4], [5, 6]]
    # The byte limit cuts inside a partition too; an oversized item is a run of its own.
    assert runs([("a", 60), ("a", 60), ("b", 150), ("c", 10)]) == [[0], [1], [2], [3]]
    assert runs([("a", 10)] * 12, max_bytes=50) == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11]]
    assert runs([]) == []
    assert runs([(p, 1) for p in "abcdefg"], parts=1) == [[i] for i in range(7)]
