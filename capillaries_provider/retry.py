"""Retry policies for every wait-and-try-again in the project, and which errors deserve one.

A policy is a named back-off (first delay doubling up to a cap) with a bound: a number of attempts, a total
time, or both. Every retry loop runs under one of the policies below (through tenacity), so their timings are
documented in one place (docs/reliability.md) and none retries forever.

Classification: an error is *transient* when the same request may succeed later (the cluster or broker is down,
restarting, overloaded, slow). An error is *permanent* when only a person can fix it (credentials, TLS files or
certificates); retrying it hides the problem, so it fails at once as a `PermanentError` naming the setting to
check. Anything else (a bad statement, a bug) is neither and is raised as it is, also at once.

A leaf module: it knows the drivers' exception types, not the layers that use them.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import tenacity
from cassandra import (
    AuthenticationFailed,
    OperationTimedOut,
    ReadFailure,
    ReadTimeout,
    Unavailable,
    WriteFailure,
    WriteTimeout,
)
from cassandra.cluster import NoHostAvailable
from cassandra.connection import ConnectionException
from cassandra.pool import NoConnectionsAvailable
from cassandra.protocol import IsBootstrappingErrorMessage, OverloadedErrorMessage
from pika.adapters.utils.connection_workflow import AMQPConnectionWorkflowFailed, AMQPConnectorPhaseErrorBase
from pika.exceptions import (
    AMQPChannelError,
    AMQPConnectionError,
    AuthenticationError,
    ChannelClosedByBroker,
    ProbableAccessDeniedError,
    ProbableAuthenticationError,
)

from capillaries_provider.stop_flag import StopFlag

T = TypeVar("T")
Classifier = Callable[[BaseException], bool]
RetryListener = Callable[[BaseException, float], None]

# A worker started together with the services (Cassandra takes about a minute to accept clients) or left running
# through an outage keeps trying this long before it gives up; it then exits with an error and its supervisor
# restarts it (with WORKER_RESTART), so the outage is visible in the log instead of a silent retry loop.
WORKER_OUTAGE_S = 600.0


# The exit code (sysexits.h EX_CONFIG) of a process that stopped for a PermanentError: its supervisor does not
# restart it, since the same settings would fail the same way.
EXIT_CONFIG = 78


class PermanentError(Exception):
    """Retrying cannot help (bad credentials, TLS files or certificates); the message names the setting."""


class Interrupted(Exception):
    """A stop was requested while waiting for the next attempt."""


@dataclass(frozen=True)
class RetryPolicy:
    """Wait `first_s`, doubling up to `max_s`, between attempts; give up after `attempts` attempts or once the
    next wait would end more than `total_s` after the first attempt started (whichever bound comes first). Only
    WORKER_RESTART has neither."""

    name: str
    first_s: float
    max_s: float
    attempts: int | None = None
    total_s: float | None = None

    @property
    def wait(self) -> tenacity.wait.wait_base:
        return tenacity.wait_exponential(multiplier=self.first_s, max=self.max_s)

    def allows(self, retry: int) -> bool:
        """Whether retry number `retry` (1 = the second attempt) is within `attempts`."""
        return self.attempts is None or retry < self.attempts

    def delay_s(self, retry: int) -> float:
        """The wait before retry number `retry`, for callers that schedule the next attempt themselves (driver
        callbacks, a supervisor's poll loop); the bounds are theirs to keep (`allows`)."""
        state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
        state.attempt_number = retry
        return float(self.wait(state))

    def retrying(
        self,
        transient: Classifier,
        *,
        on_retry: RetryListener | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> tenacity.Retrying:
        """A tenacity loop that retries errors `transient` accepts and re-raises the last one when the policy is
        spent; `on_retry(error, delay)` hears of each retry before its wait."""
        started = clock()

        def spent(state: tenacity.RetryCallState) -> bool:
            if not self.allows(state.attempt_number):
                return True
            return self.total_s is not None and clock() - started + float(state.upcoming_sleep) > self.total_s

        def before_sleep(state: tenacity.RetryCallState) -> None:
            if on_retry is not None and state.outcome is not None:
                error = state.outcome.exception()
                if error is not None:
                    on_retry(error, float(state.upcoming_sleep))

        return tenacity.Retrying(
            retry=tenacity.retry_if_exception(transient),
            wait=self.wait,
            stop=spent,
            sleep=sleep or tenacity.nap.sleep,  # time.sleep, looked up when called
            before_sleep=before_sleep,
            reraise=True,
        )

    def call(
        self,
        fn: Callable[[], T],
        transient: Classifier,
        *,
        permanent: Callable[[BaseException], str | None] = lambda exc: None,
        on_retry: RetryListener | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> T:
        """`fn()` under this policy; an error `permanent` explains is raised at once as a PermanentError."""
        try:
            return self.retrying(transient, on_retry=on_retry, sleep=sleep, clock=clock)(fn)
        except PermanentError:
            raise
        except Exception as exc:
            reason = permanent(exc)
            if reason is not None:
                raise PermanentError(reason) from exc
            raise


def warn_each_retry(log: logging.Logger, what: str) -> RetryListener:
    """The one warning per retry: `<what> (<error>); retrying in <delay> s`."""
    return lambda exc, delay: log.warning("%s (%s); retrying in %.1f s", what, exc, delay)


def interruptible(stop: StopFlag) -> Callable[[float], None]:
    """A sleep for `RetryPolicy` that a stop request cuts short, raising Interrupted."""

    def sleep(seconds: float) -> None:
        if stop.wait(seconds):
            raise Interrupted

    return sleep


# The named policies (docs/reliability.md has them as a table).
# A Cassandra statement that met a transient error: Go's back-off of spec 3.4, 200 ms doubling, 5 retries.
CASSANDRA_TRANSIENT = RetryPolicy("cassandra-transient", first_s=0.2, max_s=3.2, attempts=6)
# A table created moments ago and not yet known to the coordinator (Go: "does not exist" -> retry after 2 s).
CASSANDRA_SCHEMA_PROPAGATION = RetryPolicy("cassandra-schema-propagation", first_s=2.0, max_s=2.0, attempts=5)
# A schema statement (CREATE/DROP ... IF [NOT] EXISTS): slow on a busy cluster, harmless to repeat.
CASSANDRA_SCHEMA = RetryPolicy("cassandra-schema", first_s=1.0, max_s=8.0, attempts=5)
# A worker process opening its Cassandra session: outlasts a cluster that is (re)starting.
CASSANDRA_CONNECT = RetryPolicy("cassandra-connect", first_s=0.5, max_s=30.0, total_s=WORKER_OUTAGE_S)
# A CLI command opening its session: rides out a restart of about half a minute, then reports the error.
CLI_CONNECT = RetryPolicy("cli-connect", first_s=1.0, max_s=15.0, attempts=6)
# A worker's consumer (re)connecting to RabbitMQ after the connection was lost or could not be opened.
BROKER_RECONNECT = RetryPolicy("broker-reconnect", first_s=0.5, max_s=30.0, total_s=WORKER_OUTAGE_S)
# One publish (with its reconnect): the caller (a batch, `run start`, a node task) waits about a minute at most.
BROKER_PUBLISH = RetryPolicy("broker-publish", first_s=0.5, max_s=30.0, attempts=8)
# A worker process that died is restarted by its supervisor; unbounded on purpose (crashes are logged, a process
# that exits for a permanent error is not restarted), so only the wait between restarts is this policy's.
WORKER_RESTART = RetryPolicy("worker-restart", first_s=1.0, max_s=30.0)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what the drivers wrapped in it: NoHostAvailable's per-host errors, pika's workflow failures,
    `raise ... from`."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        if isinstance(e, NoHostAvailable) and isinstance(e.errors, dict):
            todo.extend(v for v in e.errors.values() if isinstance(v, BaseException))
        if isinstance(e, AMQPConnectionError):
            todo.extend(a for a in e.args if isinstance(a, BaseException))
        if isinstance(e, AMQPConnectionWorkflowFailed):
            todo.extend(e.exceptions)
        if isinstance(e, AMQPConnectorPhaseErrorBase):
            todo.append(e.exception)
        if e.__cause__ is not None:
            todo.append(e.__cause__)


_TLS_TEXT = ("certificate verify failed", "wrong_version_number", "no_certificate_or_crl_found")


def _tls_failure(exc: BaseException) -> bool:
    """A certificate the peer or we cannot accept, or TLS spoken to a plain port. cassandra-driver re-raises the
    handshake's SSLError as a plain OSError, so its text is checked too. An EOF mid-handshake is not one."""
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError | ssl.SSLWantReadError | ssl.SSLWantWriteError):
        return False
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return True
    return isinstance(exc, OSError) and any(t in str(exc).lower() for t in _TLS_TEXT)


def _unreadable_file(exc: BaseException) -> bool:
    return isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError | NotADirectoryError)


_CASSANDRA_TLS_SETTINGS = (
    "CAPILLARIES_CASSANDRA_TLS_CA, CAPILLARIES_CASSANDRA_TLS_CERT, CAPILLARIES_CASSANDRA_TLS_KEY"
    " and CAPILLARIES_CASSANDRA_TLS_VERIFY_HOSTNAME"
)


def cassandra_permanent(exc: BaseException) -> str | None:
    """Why connecting to Cassandra cannot succeed without a settings change, or None."""
    for cause in _causes(exc):
        if isinstance(cause, AuthenticationFailed):
            return (
                f"Cassandra rejected the credentials ({cause}): check CAPILLARIES_CASSANDRA_USERNAME and"
                " CAPILLARIES_CASSANDRA_PASSWORD"
            )
        if _tls_failure(cause):
            return f"TLS to Cassandra failed ({cause}): check {_CASSANDRA_TLS_SETTINGS}"
        if _unreadable_file(cause):
            return f"cannot read a Cassandra TLS file ({cause}): check {_CASSANDRA_TLS_SETTINGS}"
    return None


CAS_WRITE_UNKNOWN = 0x1700

_CASSANDRA_TRANSIENT: tuple[type[BaseException], ...] = (
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


def cassandra_transient(exc: BaseException) -> bool:
    """True when `exc` means the cluster was unreachable/overloaded/slow, so the same request may succeed later
    (Go decides from gocql error text, spec 3.4/5.3; the Python driver's exception types say the same)."""
    if getattr(exc, "code", None) == CAS_WRITE_UNKNOWN:  # "proposal accepted by 1 but not a quorum"
        return True  # our LWTs are safe to repeat: a key already holding our rowid counts as ours
    return isinstance(exc, _CASSANDRA_TRANSIENT) and cassandra_permanent(exc) is None


def missing_table(exc: BaseException) -> bool:
    """A table that exists but has not reached the coordinator yet."""
    text = str(exc)
    return "unconfigured table" in text or "does not exist" in text


def statement_policy(exc: BaseException) -> RetryPolicy | None:
    """The policy for retrying a statement that raised `exc`, or None when it must fail now.

    Write and read failures ("received 0 responses and 1 failures" in gocql; a node that has just rejoined) are
    retried like timeouts, a bounded number of times: unlike `cassandra_transient` errors they can be permanent.
    """
    if cassandra_transient(exc) or isinstance(exc, (WriteFailure, ReadFailure)):
        return CASSANDRA_TRANSIENT
    if missing_table(exc):
        return CASSANDRA_SCHEMA_PROPAGATION
    return None


def statement_delay_s(exc: BaseException, retry: int) -> float | None:
    """Seconds to wait before retry number `retry` (1-based) of a statement that raised `exc`; None: give up."""
    policy = statement_policy(exc)
    return policy.delay_s(retry) if policy is not None and policy.allows(retry) else None


def call_statement(
    fn: Callable[[], T],
    *,
    on_retry: RetryListener | None = None,
    sleep: Callable[[float], None] | None = None,
) -> T:
    """Run a statement, retrying under the policy its latest error calls for (the attempts count across kinds,
    as Go's one counter does)."""

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        delay = statement_delay_s(exc, state.attempt_number) if exc is not None else None
        return 0.0 if delay is None else delay

    def stop(state: tenacity.RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome is not None else None
        return exc is None or statement_delay_s(exc, state.attempt_number) is None

    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        if on_retry is not None and exc is not None:
            on_retry(exc, float(state.upcoming_sleep))

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(lambda e: statement_policy(e) is not None),
        wait=wait,
        stop=stop,
        sleep=sleep or tenacity.nap.sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(fn)


# Errors after which a new broker connection may succeed: the broker went away or closed our channel (e.g. a
# consumer ack timeout, a deleted queue that the next declare recreates), or a publish was nacked.
_AMQP_TRANSIENT: tuple[type[BaseException], ...] = (
    AMQPConnectionError,
    AMQPChannelError,  # includes NackError and UnroutableError
    ConnectionError,
    OSError,
)


def amqp_permanent(exc: BaseException) -> str | None:
    """Why connecting to RabbitMQ cannot succeed without a settings change, or None. The URL itself is never
    quoted: it holds the password."""
    for cause in _causes(exc):
        if isinstance(cause, ChannelClosedByBroker) and cause.reply_code == 403:
            return (
                f"RabbitMQ refused access ({cause.reply_text}): check the permissions of the user of"
                " CAPILLARIES_AMQP_URL"
            )
        if isinstance(cause, AuthenticationError | ProbableAuthenticationError | ProbableAccessDeniedError):
            return (
                f"RabbitMQ rejected the login ({type(cause).__name__}): check the user and password in"
                " CAPILLARIES_AMQP_URL"
            )
        if _tls_failure(cause):
            return f"TLS to RabbitMQ failed ({cause}): check the ssl_options of CAPILLARIES_AMQP_URL"
        if _unreadable_file(cause):
            return f"cannot read a RabbitMQ TLS file ({cause}): check the ssl_options of CAPILLARIES_AMQP_URL"
    return None


def amqp_transient(exc: BaseException) -> bool:
    """True when reopening the broker connection is the right reaction to `exc`."""
    return isinstance(exc, _AMQP_TRANSIENT) and amqp_permanent(exc) is None
