"""The retry policies: which errors are retried, how long, and that a stop request cuts a wait short.

Fake clocks and sleeps only: nothing here waits for real.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable

import pytest
from cassandra import (
    AuthenticationFailed,
    ConsistencyLevel,
    InvalidRequest,
    OperationTimedOut,
    ReadFailure,
    ReadTimeout,
    Unavailable,
    WriteFailure,
)
from cassandra.cluster import NoHostAvailable
from cassandra.connection import ConnectionShutdown
from cassandra.protocol import ErrorMessage
from pika.adapters.utils.connection_workflow import AMQPConnectionWorkflowFailed, AMQPConnectorTransportSetupError
from pika.exceptions import AMQPConnectionError, ProbableAuthenticationError

from capillaries_provider import retry
from capillaries_provider.retry import (
    BROKER_PUBLISH,
    BROKER_RECONNECT,
    CAS_WRITE_UNKNOWN,
    CASSANDRA_CONNECT,
    CLI_CONNECT,
    WORKER_OUTAGE_S,
    WORKER_RESTART,
    Interrupted,
    PermanentError,
    RetryPolicy,
    amqp_permanent,
    amqp_transient,
    call_statement,
    cassandra_permanent,
    cassandra_transient,
    interruptible,
    statement_delay_s,
)
from capillaries_provider.stop_flag import StopFlag


class FakeTime:
    """A clock that only the fake sleep advances."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def failing(errors: list[BaseException], result: str = "ok") -> Callable[[], str]:
    """A call that raises `errors` one by one, then returns `result`."""

    def call() -> str:
        if errors:
            raise errors.pop(0)
        return result

    return call


def test_transient_cassandra_errors() -> None:
    assert cassandra_transient(NoHostAvailable("no hosts", {}))
    assert cassandra_transient(NoHostAvailable("down", {"127.0.0.1:1": ConnectionRefusedError(111, "refused")}))
    assert cassandra_transient(OperationTimedOut("timed out"))
    assert cassandra_transient(Unavailable("unavailable", ConsistencyLevel.QUORUM, 2, 1))
    assert cassandra_transient(ReadTimeout("read timeout"))
    assert cassandra_transient(ConnectionShutdown("closed"))
    assert cassandra_transient(ConnectionResetError())
    assert not cassandra_transient(InvalidRequest("Undefined column name x"))
    assert not cassandra_transient(ValueError("bad"))


def test_permanent_cassandra_errors_name_the_setting() -> None:
    auth = NoHostAvailable("no host", {"10.0.0.1:9042": AuthenticationFailed("Provided username capi is incorrect")})
    # cassandra-driver re-raises a failed TLS handshake as a plain OSError carrying the SSL text
    verify = NoHostAvailable(
        "no host",
        {"10.0.0.1:9042": OSError(1, "Tried connecting to [...]. Last error: [SSL: CERTIFICATE_VERIFY_FAILED] ...")},
    )
    missing_ca = FileNotFoundError(2, "No such file or directory")
    for exc, setting in [
        (auth, "CAPILLARIES_CASSANDRA_PASSWORD"),
        (verify, "CAPILLARIES_CASSANDRA_TLS_CA"),
        (missing_ca, "CAPILLARIES_CASSANDRA_TLS_CA"),
        (ssl.SSLCertVerificationError("certificate verify failed"), "CAPILLARIES_CASSANDRA_TLS_VERIFY_HOSTNAME"),
    ]:
        reason = cassandra_permanent(exc)
        assert reason is not None and setting in reason, exc
        assert not cassandra_transient(exc)
    assert cassandra_permanent(NoHostAvailable("down", {"h": ConnectionRefusedError()})) is None
    assert cassandra_permanent(ssl.SSLEOFError("EOF during handshake")) is None


def test_amqp_classification() -> None:
    assert amqp_transient(AMQPConnectionError("refused"))
    assert amqp_transient(ConnectionRefusedError())
    unverified = AMQPConnectionError(
        AMQPConnectionWorkflowFailed([AMQPConnectorTransportSetupError(ssl.SSLCertVerificationError("verify"))])
    )
    missing_ca = FileNotFoundError(2, "No such file or directory")  # pika reads ssl_options' CA when parsing the URL
    for exc in (unverified, missing_ca, ProbableAuthenticationError("bad password")):
        reason = amqp_permanent(exc)
        assert reason is not None and "CAPILLARIES_AMQP_URL" in reason, exc
        assert not amqp_transient(exc)


def test_statement_schedules_are_gos() -> None:
    timeout = OperationTimedOut("timed out")
    assert [statement_delay_s(timeout, r) for r in range(1, 7)] == [0.2, 0.4, 0.8, 1.6, 3.2, None]
    assert statement_delay_s(WriteFailure("received 0 responses and 1 failures"), 1) == 0.2
    missing = InvalidRequest('Error from server: code=2200 [Invalid query] message="unconfigured table t_00001"')
    assert [statement_delay_s(missing, r) for r in range(1, 6)] == [2.0, 2.0, 2.0, 2.0, None]
    assert statement_delay_s(InvalidRequest("Undefined column name x"), 1) is None


def test_call_statement_retries_then_gives_up() -> None:
    t = FakeTime()
    seen: list[float] = []
    call = failing([OperationTimedOut("slow")] * 2)
    assert call_statement(call, on_retry=lambda exc, d: seen.append(d), sleep=t.sleep) == "ok"
    assert t.sleeps == seen == [0.2, 0.4]
    t = FakeTime()
    with pytest.raises(OperationTimedOut):
        call_statement(failing([OperationTimedOut("slow")] * 9), sleep=t.sleep)
    assert t.sleeps == [0.2, 0.4, 0.8, 1.6, 3.2]
    t = FakeTime()
    with pytest.raises(InvalidRequest):
        call_statement(failing([InvalidRequest("Undefined column name x")]), sleep=t.sleep)
    assert t.sleeps == []


def test_bounded_by_attempts() -> None:
    t = FakeTime()
    with pytest.raises(OperationTimedOut):
        CLI_CONNECT.call(failing([OperationTimedOut("down")] * 10), cassandra_transient, sleep=t.sleep, clock=t.clock)
    assert t.sleeps == [1.0, 2.0, 4.0, 8.0, 15.0]
    assert [BROKER_PUBLISH.delay_s(r) for r in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    assert not BROKER_PUBLISH.allows(8)


def test_bounded_by_total_time_outlasts_a_slow_start() -> None:
    t = FakeTime()
    # Cassandra accepting clients after about a minute: still connected
    starting = failing([NoHostAvailable("down", {})] * 6)
    assert CASSANDRA_CONNECT.call(starting, cassandra_transient, sleep=t.sleep, clock=t.clock) == "ok"
    assert t.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0]
    t = FakeTime()
    with pytest.raises(NoHostAvailable):
        CASSANDRA_CONNECT.call(
            failing([NoHostAvailable("down", {})] * 1000), cassandra_transient, sleep=t.sleep, clock=t.clock
        )
    assert WORKER_OUTAGE_S - 30.0 < t.now <= WORKER_OUTAGE_S
    assert max(t.sleeps) == 30.0
    assert BROKER_RECONNECT.total_s == WORKER_OUTAGE_S


def test_permanent_errors_fail_at_once() -> None:
    t = FakeTime()
    bad_password = NoHostAvailable("no host", {"h": AuthenticationFailed("bad credentials")})
    with pytest.raises(PermanentError, match="CAPILLARIES_CASSANDRA_USERNAME") as raised:
        CASSANDRA_CONNECT.call(
            failing([bad_password]), cassandra_transient, permanent=cassandra_permanent, sleep=t.sleep, clock=t.clock
        )
    assert raised.value.__cause__ is bad_password
    assert t.sleeps == []
    with pytest.raises(ValueError, match="a bug"):  # neither transient nor permanent: raised as it is
        CASSANDRA_CONNECT.call(failing([ValueError("a bug")]), cassandra_transient, permanent=cassandra_permanent)


def test_one_warning_per_retry(caplog: pytest.LogCaptureFixture) -> None:
    t = FakeTime()
    log = logging.getLogger("test.retry")
    CASSANDRA_CONNECT.call(
        failing([NoHostAvailable("down", {})] * 2),
        cassandra_transient,
        on_retry=retry.warn_each_retry(log, "cannot connect to Cassandra"),
        sleep=t.sleep,
        clock=t.clock,
    )
    warnings = [r.getMessage() for r in caplog.records if r.name == "test.retry"]
    assert len(warnings) == 2 and all(w.startswith("cannot connect to Cassandra (") for w in warnings)
    assert warnings[0].endswith("retrying in 0.5 s")


def test_a_stop_request_interrupts_the_wait() -> None:
    stop = StopFlag()
    attempts: list[int] = []

    def down() -> str:
        attempts.append(1)
        stop.request()  # e.g. SIGTERM while the attempt was under way
        raise NoHostAvailable("down", {})

    with pytest.raises(Interrupted):
        CASSANDRA_CONNECT.call(down, cassandra_transient, sleep=interruptible(stop))
    assert attempts == [1]


def test_interruptible_sleep_returns_at_once_when_stopped() -> None:
    stop = StopFlag()
    stop.request()
    with pytest.raises(Interrupted):
        interruptible(stop)(3600.0)
    interruptible(StopFlag())(0.0)  # not stopped: a plain sleep


def test_policy_without_bounds_only_schedules() -> None:
    assert [WORKER_RESTART.delay_s(r) for r in range(1, 8)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert RetryPolicy("x", first_s=2.0, max_s=2.0, attempts=2).delay_s(5) == 2.0


def test_an_unknown_cas_result_is_transient_and_a_read_failure_is_retried_per_statement_only() -> None:
    """Both failed batches as "internal error" in the scale tests just after a Cassandra node rejoined."""
    cas_unknown = ErrorMessage(CAS_WRITE_UNKNOWN, "CAS operation result is unknown", None)
    assert cassandra_transient(cas_unknown)  # the batch is redelivered, not failed
    assert statement_delay_s(cas_unknown, 1) is not None
    read_failure = ReadFailure("received 0 responses and 1 failures")
    assert not cassandra_transient(read_failure)
    assert statement_delay_s(read_failure, 1) is not None
    assert statement_delay_s(ErrorMessage(0x2200, "syntax", None), 1) is None
