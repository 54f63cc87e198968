"""Prometheus metrics of a worker process group: one endpoint per `capillaries worker`, fed by all its processes.

prometheus_client's multiprocess mode: each worker process writes its samples to memory-mapped files in a
directory that belongs to the group (created empty at start, removed at exit) and the supervisor serves their
sum. Counts therefore survive a restarted worker process; a dead process's in-progress gauge is dropped.

Everything is read off what the layers already hand back, at the queue/storage edge: the engine's BatchOutcome
(recorded status, `started`, BatchStats), the message's enqueue time, the driver's failed requests and the
`telemetry` events of the store and the py_calc pool. Names and labels are listed in docs/metrics.md.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from cassandra.cluster import ResponseFuture, Session
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from capillaries_provider.engine.batch import BatchOutcome, Decision
from capillaries_provider.script.model import Script
from capillaries_provider.telemetry import PyCalcKillReason

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNKNOWN_NODE_TYPE = "unknown"
# Batches run from milliseconds (a small file) to the 5-minute default grace period and beyond.
DURATION_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
# A message waits behind the whole queue, and a retried one also for its earlier attempts and delays.
QUEUE_WAIT_BUCKETS_S = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0)


def outcome_label(outcome: BatchOutcome) -> str:
    """`success` / `fail` / `stopreceived` when this message recorded that status, else `retry` (back through the
    delay queue) or `noop` (acknowledged with nothing to do: batch already finished, run already over)."""
    if outcome.recorded is not None:
        return outcome.recorded.label
    return "retry" if outcome.decision is Decision.RETRY else "noop"


def node_type_label(script: Script | None, node: str) -> str:
    """The node's type as a label; `unknown` when the script could not be loaded or lacks the node."""
    found = script.nodes.get(node) if script is not None else None
    return found.type.value if found is not None else UNKNOWN_NODE_TYPE


class WorkerMetrics:
    """What one worker process records. `registry=None` is the multiprocess case: samples go to the group's files
    and the supervisor collects them; a unit test passes its own registry to read them back."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry
        self.started = Counter(
            "capillaries_batches_started", "Batches recorded `start` and run by a processor", ["node_type"], registry=r
        )
        self.batches = Counter(
            "capillaries_batches", "Batch messages handled, by outcome", ["node_type", "outcome"], registry=r
        )
        self.redelivered = Counter(
            "capillaries_batches_redelivered",
            "Batch messages the broker delivered again after their consumer went away unacknowledged",
            ["node_type"],
            registry=r,
        )
        self.rows_read = Counter("capillaries_rows_read", "Rows read by successful batches", ["node_type"], registry=r)
        self.rows_written = Counter(
            "capillaries_rows_written", "Rows written by successful batches", ["node_type"], registry=r
        )
        self.duration = Histogram(
            "capillaries_batch_duration_seconds",
            "Time a worker spent on one batch message",
            ["node_type"],
            buckets=DURATION_BUCKETS_S,
            registry=r,
        )
        self.queue_wait = Histogram(
            "capillaries_batch_queue_wait_seconds",
            "Time from a batch message's enqueue timestamp to a worker taking it",
            ["node_type"],
            buckets=QUEUE_WAIT_BUCKETS_S,
            registry=r,
        )
        self.in_progress = Gauge(
            "capillaries_batches_in_progress",
            "Batch messages being handled now",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.cassandra_errors = Counter(
            "capillaries_cassandra_request_errors", "Cassandra requests that failed", ["error"], registry=r
        )
        self.cassandra_retries = Counter(
            "capillaries_cassandra_retries", "Failed Cassandra statements sent again", ["error"], registry=r
        )
        self.pycalc_starts = Counter("capillaries_pycalc_child_starts", "py_calc interpreters started", registry=r)
        self.pycalc_kills = Counter(
            "capillaries_pycalc_child_kills",
            "py_calc interpreters killed and replaced (timeout: a row overran its deadline)",
            ["reason"],
            registry=r,
        )

    # -- batches (the handler and the consumer) --------------------------------------------------------------

    def batch_done(self, node_type: str, outcome: BatchOutcome | None, *, waited_s: float, elapsed_s: float) -> None:
        """One message handled; `outcome` None: the processor raised (a failure it could not record), so the
        consumer parks the message. A negative wait (clocks of two machines apart) counts as 0."""
        self.queue_wait.labels(node_type).observe(max(0.0, waited_s))
        self.duration.labels(node_type).observe(elapsed_s)
        if outcome is None:
            self.batches.labels(node_type, "parked").inc()
            return
        if outcome.started:
            self.started.labels(node_type).inc()
        if outcome.stats is not None:
            self.rows_read.labels(node_type).inc(outcome.stats.rows_read)
            self.rows_written.labels(node_type).inc(outcome.stats.rows_written)
        # Last: a scraper that sees the message counted sees everything else about it.
        self.batches.labels(node_type, outcome_label(outcome)).inc()

    def batch_redelivered(self, node_type: str) -> None:
        self.redelivered.labels(node_type).inc()

    # -- Cassandra ------------------------------------------------------------------------------------------

    def watch_session(self, session: Session) -> None:
        """Count every request of `session` that ends in an error (after the driver's own retry policy)."""
        session.add_request_init_listener(self._on_request)

    def _on_request(self, future: ResponseFuture) -> None:
        future.add_errback(self._on_request_error)

    def _on_request_error(self, error: BaseException) -> None:
        self.cassandra_errors.labels(type(error).__name__).inc()

    # -- telemetry.Sink -------------------------------------------------------------------------------------

    def cassandra_retry(self, error: BaseException) -> None:
        self.cassandra_retries.labels(type(error).__name__).inc()

    def pycalc_child_started(self) -> None:
        self.pycalc_starts.inc()

    def pycalc_child_killed(self, reason: PyCalcKillReason) -> None:
        self.pycalc_kills.labels(reason).inc()


class MetricsExporter:
    """The group's endpoint: owns the multiprocess directory and the HTTP server that sums the files in it.

    The directory is set in this process's environment, so that worker processes spawned afterwards write there.
    """

    def __init__(self, address: str, port: int) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="capillaries-metrics-"))
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self.directory))
        try:
            self._server, self._thread = start_http_server(port, address, registry)
        except OSError:
            shutil.rmtree(self.directory, ignore_errors=True)
            raise
        self._previous_env = os.environ.get(MULTIPROC_ENV)
        os.environ[MULTIPROC_ENV] = str(self.directory)

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def process_dead(self, pid: int) -> None:
        """Drop a dead worker process's live gauges; its counters stay in the sum."""
        mark_process_dead(pid, str(self.directory))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        if self._previous_env is None:
            os.environ.pop(MULTIPROC_ENV, None)
        else:
            os.environ[MULTIPROC_ENV] = self._previous_env
        shutil.rmtree(self.directory, ignore_errors=True)
