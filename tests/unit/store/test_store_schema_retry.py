"""Schema statements are retried on transient errors (they are all conditional, so repeating is safe)."""

from __future__ import annotations

from typing import Any

import pytest
from cassandra import InvalidRequest, OperationTimedOut

from capillaries_provider.retry import RetryPolicy
from capillaries_provider.script.names import validate_keyspace_name
from capillaries_provider.store import session as store_session
from capillaries_provider.store.session import execute_schema


class FlakySession:
    def __init__(self, failures: list[BaseException]) -> None:
        self.failures = failures
        self.calls: list[tuple[str, Any]] = []

    def execute(self, cql: str, timeout: float) -> None:
        self.calls.append((cql, timeout))
        if self.failures:
            raise self.failures.pop(0)


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_session, "CASSANDRA_SCHEMA", RetryPolicy("test", first_s=0.0, max_s=0.0, attempts=3))


def test_timeouts_are_retried_with_a_long_timeout() -> None:
    s = FlakySession([OperationTimedOut("slow"), OperationTimedOut("slow")])
    execute_schema(s, "CREATE TABLE IF NOT EXISTS ks.t (a int PRIMARY KEY)")  # type: ignore[arg-type]
    assert len(s.calls) == 3 and all(t == store_session.SCHEMA_TIMEOUT_S for _, t in s.calls)


def test_gives_up_after_the_schedule() -> None:
    s = FlakySession([OperationTimedOut("slow")] * 3)
    with pytest.raises(OperationTimedOut):
        execute_schema(s, "DROP KEYSPACE IF EXISTS ks")  # type: ignore[arg-type]
    assert len(s.calls) == 3


def test_permanent_errors_are_not_retried() -> None:
    s = FlakySession([InvalidRequest("bad type")])
    with pytest.raises(InvalidRequest):
        execute_schema(s, "CREATE TABLE IF NOT EXISTS ks.t (a nosuchtype PRIMARY KEY)")  # type: ignore[arg-type]
    assert len(s.calls) == 1


def test_keyspace_names() -> None:
    assert validate_keyspace_name("My_ks_1") == "My_ks_1"
    for bad in ["", "system_x", "System", "a-b", "a" * 49, "ks; DROP"]:
        with pytest.raises(ValueError, match="invalid keyspace name"):
            validate_keyspace_name(bad)
