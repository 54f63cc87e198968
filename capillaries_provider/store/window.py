"""A bounded window of asynchronous Cassandra requests, refilled from the driver's I/O thread.

At most `concurrency` requests are in flight; further submissions wait in a backlog, and each completion sends
the next one from the completion callback itself, the way the driver's `execute_concurrent` does. The producing
thread therefore never hands off a slot per request: it blocks only when the backlog is full and is woken once
the backlog has drained to half. (A semaphore released per completion costs a thread wake-up and a GIL hand-over
per request, about a third of the load stage's client CPU when it was measured.)

Transient failures are retried under `retry.statement_policy` (Go's back-off) while the request keeps its slot.
After the first permanent failure the backlog is dropped: the batch fails as a whole, nothing more is worth
sending. `wait()` returns when nothing is in flight.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from cassandra.cluster import Session
from cassandra.query import Statement

from capillaries_provider import telemetry
from capillaries_provider.retry import statement_delay_s

MAX_REPORTED_ERRORS = 5


class Request:
    """One request: the statement, its retry count, and what its outcome means to the writer that sent it."""

    __slots__ = ("statement", "attempt")

    def __init__(self, statement: Statement) -> None:
        self.statement = statement
        self.attempt = 0

    def check(self, rows: Any) -> BaseException | None:
        """The error the response stands for (e.g. a lightweight transaction not applied), or None."""
        return None

    def failure(self, exc: BaseException) -> BaseException:
        """The error to report when the request failed for good (`self.attempt` retries were made)."""
        return exc


class RequestWindow:
    """Sends `Request`s with at most `concurrency` in flight and at most `backlog` waiting to be sent."""

    def __init__(self, session: Session, concurrency: int, backlog: int | None = None) -> None:
        if concurrency < 1:
            raise ValueError("writer concurrency must be at least 1")
        self._session = session
        self._concurrency = concurrency
        self._max_backlog = max(1, concurrency if backlog is None else backlog)
        self._lock = threading.Lock()
        self._in_flight = 0
        self._backlog: deque[Request] = deque()
        self._space: threading.Event | None = None  # set when a full backlog has drained to half
        self._idle: threading.Event | None = None  # set when nothing is in flight any more
        self.errors: list[BaseException] = []
        self.error_count = 0
        self.retries = 0

    def submit(self, request: Request) -> None:
        """Send now if a slot is free, else queue; blocks while the backlog is full."""
        space = None
        with self._lock:
            if self._in_flight < self._concurrency:
                self._in_flight += 1
                send = True
            else:
                send = False
                self._backlog.append(request)
                if len(self._backlog) >= self._max_backlog:
                    space = self._space = threading.Event()
        if send:
            self._send(request)
        elif space is not None:
            space.wait()

    def wait(self) -> None:
        """Block until every submitted request has completed (succeeded, failed for good, or been dropped)."""
        with self._lock:
            if not self._in_flight:
                return
            idle = self._idle = threading.Event()
        idle.wait()

    def _send(self, request: Request) -> None:
        try:
            future = self._session.execute_async(request.statement)
        except Exception as exc:  # e.g. the session was shut down
            self._on_error(exc, request)
            return
        future.add_callbacks(self._on_rows, self._on_error, callback_args=(request,), errback_args=(request,))

    def _on_rows(self, rows: Any, request: Request) -> None:
        try:
            error = request.check(rows)
        except Exception as exc:  # a bug in the check must not hang wait()
            error = exc
        self._complete(error)

    def _on_error(self, exc: BaseException, request: Request) -> None:
        delay = statement_delay_s(exc, request.attempt + 1)
        if delay is None:
            self._complete(request.failure(exc))
            return
        request.attempt += 1
        with self._lock:
            self.retries += 1
        telemetry.cassandra_retry(exc)
        timer = threading.Timer(delay, self._send, (request,))
        timer.daemon = True
        timer.start()

    def _complete(self, error: BaseException | None) -> None:
        """One request is done: its slot goes to the next waiting request, or is freed."""
        following = None
        with self._lock:
            if error is not None:
                self.error_count += 1
                if len(self.errors) < MAX_REPORTED_ERRORS:
                    self.errors.append(error)
                self._backlog.clear()
            if self._backlog:
                following = self._backlog.popleft()
            else:
                self._in_flight -= 1
                if not self._in_flight and self._idle is not None:
                    self._idle.set()
                    self._idle = None
            if self._space is not None and len(self._backlog) <= self._max_backlog // 2:
                self._space.set()
                self._space = None
        if following is not None:
            self._send(following)
