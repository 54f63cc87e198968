"""One worker process: its own Cassandra session and broker connection, prefetch 1, one batch at a time.

The message is acknowledged only after the batch's final status is written (the consumer acks when the handler
returns). SIGTERM/SIGINT let the in-flight batch finish, then the process exits.

A setting that can never work (credentials, TLS) ends the process with EXIT_CONFIG, which its supervisor does
not restart; an outage longer than `retry.WORKER_OUTAGE_S` ends it with 1, and the supervisor restarts it.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry

from capillaries_provider import telemetry
from capillaries_provider.config import AmqpSettings, CassandraSettings, amqp_settings, cassandra_settings
from capillaries_provider.engine.batch import BatchProcessor, Decision
from capillaries_provider.engine.dependency import DecisionCache
from capillaries_provider.engine.ports import BatchTask
from capillaries_provider.queue.consumer import Consumer, Handler, HandlerResult, stop_on_signals
from capillaries_provider.retry import (
    CASSANDRA_CONNECT,
    EXIT_CONFIG,
    WORKER_OUTAGE_S,
    Interrupted,
    PermanentError,
    cassandra_permanent,
    cassandra_transient,
    interruptible,
    warn_each_retry,
)
from capillaries_provider.stop_flag import StopFlag
from capillaries_provider.worker.backend import CassandraBackend
from capillaries_provider.worker.metrics import WorkerMetrics, node_type_label
from capillaries_provider.worker.scripts import ScriptCache

NodeTypeOf = Callable[[BatchTask], str]

log = logging.getLogger("capillaries.worker")


def node_types(scripts: ScriptCache) -> NodeTypeOf:
    """A message's node type from the script the processor has just loaded for it (never loads one itself)."""
    return lambda task: node_type_label(scripts.peek(task.script_url, task.script_params_url), task.target_node)


def make_handler(processor: BatchProcessor, metrics: WorkerMetrics, node_type: NodeTypeOf) -> Handler:
    """The consumer callback: run the state machine, log one line per message, count it, map the outcome to the
    broker.

    Failures are recorded by the processor; what it cannot record (FailureNotRecorded) the consumer parks.
    """

    def handle(task: BatchTask) -> HandlerResult:
        ids = {"ks": task.ks, "run": task.run_id, "node": task.target_node, "bi": task.batch_idx, "id": task.id}
        waited_s = time.time() - task.ts_ms / 1000.0
        started = time.monotonic()
        metrics.in_progress.inc()
        try:
            outcome = processor.process(task)
        except Exception:
            metrics.batch_done(node_type(task), None, waited_s=waited_s, elapsed_s=time.monotonic() - started)
            raise
        finally:
            metrics.in_progress.dec()
        seconds = time.monotonic() - started
        metrics.batch_done(node_type(task), outcome, waited_s=waited_s, elapsed_s=seconds)
        elapsed = round(seconds, 3)
        extra = {**ids, "outcome": outcome.decision.value, "elapsed_s": elapsed}
        recorded = outcome.recorded.label if outcome.recorded is not None else "-"
        log.info("batch %s: %s (%s)", recorded, outcome.detail, outcome.decision.value, extra=extra)
        if outcome.decision is Decision.RETRY:
            return HandlerResult.retry_later(outcome.detail)
        return HandlerResult.ack()

    return handle


def _connect_backend(cassandra: CassandraSettings, amqp: AmqpSettings, stop: StopFlag) -> CassandraBackend | None:
    """Connect to Cassandra under CASSANDRA_CONNECT; None when the process was asked to stop meanwhile.

    Only transient errors are retried: a permanent one raises PermanentError at once, anything else as it is.
    """
    try:
        return CASSANDRA_CONNECT.call(
            lambda: CassandraBackend(cassandra, amqp),
            cassandra_transient,
            permanent=cassandra_permanent,
            on_retry=warn_each_retry(log, "cannot connect to Cassandra"),
            sleep=interruptible(stop),
        )
    except Interrupted:
        return None


def serve(queue: str | None = None, *, metrics_on: bool = False) -> int:
    """Consume batches until SIGTERM/SIGINT; returns the process exit code.

    With `metrics_on` the samples go to the group's multiprocess files (the supervisor set the directory in the
    environment); otherwise into a registry nobody serves.
    """
    try:
        amqp, cassandra = amqp_settings(), cassandra_settings()
    except ValueError as exc:  # the settings' messages name the variable
        log.error("worker cannot start: %s", exc)
        return EXIT_CONFIG
    if queue:
        amqp = dataclasses.replace(amqp, queue=queue)
    stop = StopFlag()
    previous = {s: signal.signal(s, lambda *_: stop.request()) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        backend = _connect_backend(cassandra, amqp, stop)
    except PermanentError as exc:
        log.error("worker cannot start: %s", exc)
        return EXIT_CONFIG
    except Exception as exc:
        spent = f" for {WORKER_OUTAGE_S:.0f} s" if cassandra_transient(exc) else ""
        log.error("worker cannot connect to Cassandra%s: %s: %s", spent, type(exc).__name__, exc)
        return 1
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    if backend is None:
        return 0
    if stop.is_set():  # SIGTERM arrived while the connection was being opened
        backend.close()
        return 0
    metrics = WorkerMetrics(None if metrics_on else CollectorRegistry())
    if metrics_on:  # a callback per request is worth paying only when someone reads the counts
        metrics.watch_session(backend.session)
    telemetry.install(metrics)
    try:
        scripts = ScriptCache()
        node_type = node_types(scripts)
        processor = BatchProcessor(backend, backend, scripts, decisions=DecisionCache(time.monotonic))
        consumer = Consumer(
            amqp,
            make_handler(processor, metrics, node_type),
            on_redelivery=lambda task: metrics.batch_redelivered(node_type(task)),
        )
        stop_on_signals(consumer)
        log.info("worker consuming queue %s", amqp.queue)
        try:
            consumer.run()
        except PermanentError as exc:
            log.error("worker cannot consume: %s", exc)
            return EXIT_CONFIG
        log.info("worker stopped")
        return 0
    finally:
        telemetry.install(None)
        backend.close()
