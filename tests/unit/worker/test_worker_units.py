"""Pure parts of the worker layer: transient-error classification, script cache, table specs, dependency reads."""

from __future__ import annotations

from typing import Any, cast

import pytest
from cassandra import AuthenticationFailed, OperationTimedOut
from cassandra.cluster import NoHostAvailable, Session

from capillaries_provider.config import AmqpSettings, CassandraSettings
from capillaries_provider.queue.publisher import PublishError
from capillaries_provider.retry import EXIT_CONFIG
from capillaries_provider.script.errors import ScriptError, ScriptFetchError, ScriptValidationError
from capillaries_provider.script.model import Script
from capillaries_provider.store.errors import DuplicateKeyError, RowWriteError
from capillaries_provider.worker import process as worker_process
from capillaries_provider.worker.backend import CassandraBackend
from capillaries_provider.worker.scripts import ERROR_TTL_S, TTL_S, ScriptCache


def backend() -> CassandraBackend:
    return CassandraBackend(CassandraSettings(), AmqpSettings(), session=cast(Session, object()))


def test_transient_errors_are_found_through_the_cause_chain() -> None:
    be = backend()
    timeout = OperationTimedOut("slow")
    wrapped = RowWriteError("insert into t failed for rowid 1 after 6 attempts")
    wrapped.__cause__ = timeout
    assert be.is_transient(timeout)
    assert be.is_transient(wrapped)
    assert be.is_transient(PublishError("broker down"))
    assert not be.is_transient(DuplicateKeyError("idx_a_00001", "k", 1, 2))
    assert not be.is_transient(ValueError("bad cell"))


class _Loader:
    def __init__(self, results: list[Any]) -> None:
        self.results = results
        self.calls = 0

    def __call__(self, url: str, params: str | None) -> Script:
        self.calls += 1
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        return cast(Script, result)


def test_script_cache_keeps_scripts_for_a_minute() -> None:
    now = [0.0]
    first, second = object(), object()
    loader = _Loader([first, second])
    cache = ScriptCache(loader, clock=lambda: now[0])
    assert cache("s.json", "") is first
    now[0] = TTL_S - 1
    assert cache("s.json", "") is first
    now[0] = TTL_S + 1
    assert cache("s.json", "") is second
    assert loader.calls == 2


def test_script_cache_remembers_content_errors_briefly_but_never_fetch_errors() -> None:
    now = [0.0]
    bad = ScriptValidationError([ScriptError("broken")])
    loader = _Loader([ScriptFetchError("down"), bad, object()])
    cache = ScriptCache(loader, clock=lambda: now[0])
    with pytest.raises(ScriptFetchError):
        cache("s.json", "p.json")
    with pytest.raises(ScriptValidationError):
        cache("s.json", "p.json")
    with pytest.raises(ScriptValidationError):
        cache("s.json", "p.json")  # cached
    now[0] = ERROR_TTL_S + 1
    assert cache("s.json", "p.json") is not None
    assert loader.calls == 3


def test_a_worker_with_wrong_credentials_stops_at_once_with_exit_config(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Not retried (the supervisor does not restart EXIT_CONFIG either): the log names the setting to fix."""
    attempts: list[int] = []

    def backend(*args: Any) -> None:
        attempts.append(1)
        raise NoHostAvailable("no host", {"127.0.0.1:9042": AuthenticationFailed("bad credentials")})

    monkeypatch.setattr(worker_process, "CassandraBackend", backend)
    assert worker_process.serve() == EXIT_CONFIG
    assert attempts == [1]
    assert "CAPILLARIES_CASSANDRA_PASSWORD" in caplog.text


def test_a_worker_with_a_bad_setting_stops_before_connecting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPILLARIES_CASSANDRA_CONSISTENCY", "MOSTLY")
    monkeypatch.setattr(worker_process, "CassandraBackend", lambda *a: pytest.fail("must not connect"))
    assert worker_process.serve() == EXIT_CONFIG
