"""Reading a run's tables: a batch's token range page by page (spec 3.5) and index lookups (spec 6.4).

Only the requested fields are selected; rows come back as `{field: Value}` with Capillaries' value conversions
(UTC-aware datetimes, zero values for NULLs). Memory stays bounded by `rowset_size` for range reads and by the
caller's key/rowid chunks for lookups.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent
from cassandra.query import BoundStatement, PreparedStatement

from capillaries_provider import telemetry
from capillaries_provider.expr.types import FieldType, Value
from capillaries_provider.retry import call_statement
from capillaries_provider.script.names import validate_identifier, validate_keyspace_name
from capillaries_provider.store.session import TUPLES, prepare_cached
from capillaries_provider.store.values import from_cassandra

Row = dict[str, Value]
T = TypeVar("T")

ROWIDS_PER_IN_QUERY = 100
KEYS_PER_IN_QUERY = 16
INDEX_FETCH_SIZE = 10_000


def _with_retry(call: Callable[[], T]) -> T:
    """Run a read, retrying transient errors with the back-off of spec 3.4/3.5."""
    return call_statement(call, on_retry=lambda exc, delay: telemetry.cassandra_retry(exc))


def _fetch_tuples(session: Session, statement: BoundStatement) -> list[Sequence[Any]]:
    return list(session.execute(statement, execution_profile=TUPLES))


class _RowBuilder:
    """Turns result tuples `(rowid, <skip>..., f1, f2, ...)` into `{f: Value}` dicts."""

    def __init__(self, fields: Mapping[str, FieldType], offset: int) -> None:
        for f in fields:
            validate_identifier(f, "field")
        self.names = list(fields)
        self.offset = offset
        self.converters = [from_cassandra(t) for t in fields.values()]

    def __call__(self, values: Sequence[Any]) -> Row:
        o = self.offset
        return {n: c(values[o + i]) for i, (n, c) in enumerate(zip(self.names, self.converters, strict=True))}


def read_token_range(
    session: Session,
    ks: str,
    table: str,
    fields: Mapping[str, FieldType],
    first_token: int,
    last_token: int,
    rowset_size: int,
) -> Iterator[list[Row]]:
    """Yield the rows whose `token(rowid)` lies in [first_token, last_token], `rowset_size` rows at a time.

    `table` is the physical name (`orders_00003`). Paging restarts at the last token seen, inclusive, and skips the
    rows of that token already returned (the "epilogue"), so rows sharing a token are neither lost nor repeated.
    """
    validate_keyspace_name(ks)
    validate_identifier(table, "table")
    if rowset_size < 1:
        raise ValueError("rowset_size must be at least 1")
    build = _RowBuilder(fields, offset=2)
    columns = ", ".join(["rowid", "token(rowid)", *build.names])
    stmt = prepare_cached(
        session,
        f"SELECT {columns} FROM {ks}.{table} WHERE token(rowid) >= ? AND token(rowid) <= ? LIMIT ?",
    )
    start = first_token
    epilogue: set[int] = set()
    while True:
        limit = rowset_size + len(epilogue)
        bound = stmt.bind([start, last_token, limit])
        bound.fetch_size = limit
        page = _with_retry(partial(_fetch_tuples, session, bound))
        fresh = [r for r in page if not (r[1] == start and r[0] in epilogue)]
        if fresh:
            yield [build(r) for r in fresh]
        if not fresh or len(page) < limit:
            return
        start = page[-1][1]
        epilogue = {r[0] for r in page if r[1] == start}


class _ConsumeFailed(Exception):
    """Carries an error of the result consumer through the statement retry loop untouched."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _concurrent_rows(
    session: Session,
    stmt: PreparedStatement,
    params: Sequence[Sequence[Any]],
    concurrency: int,
    consume: Callable[[Iterable[Sequence[Any]]], None],
) -> None:
    """Run `stmt` once per parameter tuple, concurrently, handing each result to `consume` as soon as it is in.

    Results are consumed one by one (not collected first), so memory holds the results in flight, not all of
    them. Transient failures are retried per statement.
    """
    todo = list(range(len(params)))
    errors: list[BaseException] = []

    def one_round() -> None:
        """Run the statements still to do; those that failed stay to do, and the last error is raised."""
        nonlocal todo
        outcomes = execute_concurrent(
            session,
            [(stmt, params[i]) for i in todo],
            concurrency=concurrency,
            raise_on_first_error=False,
            results_generator=True,
            execution_profile=TUPLES,
        )
        failed: list[int] = []
        errors.clear()
        for i, (ok, result) in zip(todo, outcomes, strict=True):
            if ok:
                try:
                    consume(result)
                except Exception as exc:  # ours, not the statement's: never retried, whatever its text says
                    raise _ConsumeFailed(exc) from exc
            else:
                failed.append(i)
                errors.append(result)
        todo = failed
        if errors:
            raise errors[-1]

    def count_retries(exc: BaseException, delay: float) -> None:
        for error in errors:
            telemetry.cassandra_retry(error)

    if todo:
        try:
            call_statement(one_round, on_retry=count_retries)
        except _ConsumeFailed as failed:
            raise failed.error from None


def read_index_rowids(
    session: Session, ks: str, index_table: str, keys: Sequence[str], *, concurrency: int = 16
) -> dict[str, array[int]]:
    """Rowids stored under each key of an index table (`idx_x_00003`), ascending; keys not found are absent.

    Rowids are kept in `array('q')`, 8 bytes each instead of about 44 as a list of ints: a page of left rows can
    point at millions of them (every transaction of 1,000 accounts). They arrive in the index's clustering order,
    which is ascending per key.

    Concurrent `key IN` queries of up to `KEYS_PER_IN_QUERY` distinct keys (Go's form): one request per 16 keys
    instead of one per key, which was most of a lookup's Cassandra CPU. A non-unique key can hold many rowids;
    the pages of one query are fetched one after another, so queries are kept small and pages large
    (`INDEX_FETCH_SIZE` rows of a key and a rowid) for keys with thousands of rowids to be read in parallel,
    while the pages in flight stay a few megabytes.
    """
    validate_keyspace_name(ks)
    validate_identifier(index_table, "index table")
    stmt = prepare_cached(session, f"SELECT key, rowid FROM {ks}.{index_table} WHERE key IN ?")
    stmt.fetch_size = INDEX_FETCH_SIZE
    distinct = list(dict.fromkeys(keys))
    chunks = [(distinct[i : i + KEYS_PER_IN_QUERY],) for i in range(0, len(distinct), KEYS_PER_IN_QUERY)]
    found: dict[str, array[int]] = {}

    def consume(rows: Iterable[Sequence[Any]]) -> None:
        for key, rowid in rows:
            rowids = found.get(key)
            if rowids is None:
                rowids = found[key] = array("q")
            rowids.append(rowid)

    _concurrent_rows(session, stmt, chunks, concurrency, consume)
    return found


def read_rows_by_rowid(
    session: Session,
    ks: str,
    table: str,
    fields: Mapping[str, FieldType],
    rowids: Sequence[int],
    *,
    concurrency: int = 16,
) -> dict[int, Row]:
    """Data rows by rowid, read with concurrent `IN` queries of up to 100 rowids.

    Rowids without a data row (orphan index entries, spec 3.6) are simply absent from the result.
    """
    validate_keyspace_name(ks)
    validate_identifier(table, "table")
    build = _RowBuilder(fields, offset=1)
    columns = ", ".join(["rowid", *build.names])
    stmt = prepare_cached(session, f"SELECT {columns} FROM {ks}.{table} WHERE rowid IN ?")
    distinct = list(dict.fromkeys(rowids))
    chunks = [(distinct[i : i + ROWIDS_PER_IN_QUERY],) for i in range(0, len(distinct), ROWIDS_PER_IN_QUERY)]
    rows: dict[int, Row] = {}

    def consume(result: Iterable[Sequence[Any]]) -> None:
        for r in result:
            rows[r[0]] = build(r)

    _concurrent_rows(session, stmt, chunks, concurrency, consume)
    return rows
