"""Storage errors and the transient-error classifier.

Go decides "retry or fail" from gocql error *text* (spec 3.4, 5.3). The Python driver raises typed exceptions, so
the classification is re-derived from the exception types: a transient error means "the cluster could not answer
now" (the same statement may succeed later); everything else is a property of the statement or the data.
"""

from __future__ import annotations

from cassandra import (
    OperationTimedOut,
    ReadTimeout,
    Unavailable,
    WriteFailure,
    WriteTimeout,
)
from cassandra.cluster import NoHostAvailable
from cassandra.connection import ConnectionException
from cassandra.pool import NoConnectionsAvailable
from cassandra.protocol import IsBootstrappingErrorMessage, OverloadedErrorMessage

_TRANSIENT: tuple[type[BaseException], ...] = (
    NoHostAvailable,
    OperationTimedOut,
    Unavailable,
    ReadTimeout,
    WriteTimeout,
    ConnectionException,
    NoConnectionsAvailable,
    OverloadedErrorMessage,
    IsBootstrappingErrorMessage,
    ConnectionError,
    TimeoutError,
)


class StoreError(Exception):
    """Base class of errors raised by the store layer."""


class RowWriteError(StoreError):
    """A row (or one of its index entries) could not be written; the message names table, rowid and values."""


class DuplicateKeyError(RowWriteError):
    """A unique index already holds the key for a different row."""

    def __init__(self, index_table: str, key: str, existing_rowid: int, new_rowid: int) -> None:
        super().__init__(
            f"duplicate key in unique index {index_table}: key {key!r} already points to rowid {existing_rowid},"
            f" cannot insert rowid {new_rowid}"
        )
        self.index_table = index_table
        self.key = key
        self.existing_rowid = existing_rowid
        self.new_rowid = new_rowid


def is_transient(exc: BaseException) -> bool:
    """True when `exc` means the cluster was unreachable/overloaded/slow, so the same request may succeed later."""
    return isinstance(exc, _TRANSIENT)


def _is_missing_table(exc: BaseException) -> bool:
    # A table created moments ago may not have reached every node yet (Go: "does not exist" -> retry after 2 s).
    text = str(exc)
    return "unconfigured table" in text or "does not exist" in text


# Back-off schedules of spec 3.4 (seconds): timeouts double from 200 ms, schema propagation waits 2 s.
TRANSIENT_BACKOFF_S: tuple[float, ...] = (0.2, 0.4, 0.8, 1.6, 3.2)
MISSING_TABLE_BACKOFF_S: tuple[float, ...] = (2.0, 2.0, 2.0, 2.0)


def retry_delay_s(exc: BaseException, attempt: int) -> float | None:
    """Seconds to wait before retry number `attempt` (0-based) of a failed statement, or None to give up.

    Write failures ("received 0 responses and 1 failures" in gocql) are retried like timeouts, as Go does.
    """
    if is_transient(exc) or isinstance(exc, WriteFailure):
        schedule = TRANSIENT_BACKOFF_S
    elif _is_missing_table(exc):
        schedule = MISSING_TABLE_BACKOFF_S
    else:
        return None
    return schedule[attempt] if attempt < len(schedule) else None
