"""One worker process: its own Cassandra session and broker connection, prefetch 1, one batch at a time.

The message is acknowledged only after the batch's final status is written (the consumer acks when the handler
returns). SIGTERM/SIGINT let the in-flight batch finish, then the process exits.
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
from capillaries_provider.stop_flag import StopFlag
from capillaries_provider.worker.backend import CassandraBackend
from capillaries_provider.worker.metrics import WorkerMetrics, node_type_label
from capillaries_provider.worker.scripts import ScriptCache

NodeTypeOf = Callable[[BatchTask], str]

log = logging.getLogger("capillaries.worker")

CONNECT_DELAYS_S = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


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
    """Connect to Cassandra, retrying with back-off until it answers or the process is asked to stop."""
    attempt = 0
    while not stop.is_set():
        try:
            return CassandraBackend(cassandra, amqp)
        except Exception as exc:
            delay = CONNECT_DELAYS_S[min(attempt, len(CONNECT_DELAYS_S) - 1)]
            log.warning("cannot connect to Cassandra (%s); retrying in %.1f s", exc, delay)
            attempt += 1
            stop.wait(delay)
    return None


def serve(queue: str | None = None, *, metrics_on: bool = False) -> int:
    """Consume batches until SIGTERM/SIGINT; returns the process exit code.

    With `metrics_on` the samples go to the group's multiprocess files (the supervisor set the directory in the
    environment); otherwise into a registry nobody serves.
    """
    amqp = amqp_settings()
    if queue:
        amqp = dataclasses.replace(amqp, queue=queue)
    stop = StopFlag()
    previous = {s: signal.signal(s, lambda *_: stop.request()) for s in (signal.SIGTERM, signal.SIGINT)}
    backend = _connect_backend(cassandra_settings(), amqp, stop)
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
        consumer.run()
        log.info("worker stopped")
        return 0
    finally:
        telemetry.install(None)
        backend.close()
