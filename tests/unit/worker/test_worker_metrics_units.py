"""Worker metrics: what each outcome counts, the telemetry and driver hooks, and the multiprocess endpoint."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, cast

import pytest
from cassandra import OperationTimedOut, Unavailable
from cassandra.cluster import Session
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from capillaries_provider import retry, telemetry
from capillaries_provider.cli.main import build_parser
from capillaries_provider.config import MetricsSettings, metrics_settings
from capillaries_provider.engine.batch import BatchOutcome, BatchProcessor, Decision, FailureNotRecorded
from capillaries_provider.engine.ports import BatchTask
from capillaries_provider.engine.processors.context import BatchStats
from capillaries_provider.queue.consumer import Consumer, HandlerResult, Outcome
from capillaries_provider.queue.message import encode
from capillaries_provider.script.loader import load_script_text
from capillaries_provider.status import NodeBatchStatus
from capillaries_provider.store import reader
from capillaries_provider.worker.metrics import (
    MULTIPROC_ENV,
    MetricsExporter,
    WorkerMetrics,
    node_type_label,
    outcome_label,
)
from capillaries_provider.worker.process import make_handler, node_types
from capillaries_provider.worker.scripts import ScriptCache

MS = 1_700_000_000_000


def message(node: str = "read", ts: int = MS) -> BatchTask:
    return BatchTask(
        ts_ms=ts,
        id="m1",
        script_url="s.json",
        script_params_url="",
        ks="ks",
        run_id=1,
        target_node=node,
        first_token=0,
        last_token=9,
        batch_idx=0,
        batches_total=1,
    )


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> WorkerMetrics:
    return WorkerMetrics(registry)


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


SUCCESS = BatchOutcome(Decision.ACK, NodeBatchStatus.SUCCESS, "ok", BatchStats("a", "b", 10, 7, 0.1), started=True)


@pytest.mark.parametrize(
    ("outcome", "label"),
    [
        (SUCCESS, "success"),
        (BatchOutcome(Decision.ACK, NodeBatchStatus.FAIL, "bad"), "fail"),
        (BatchOutcome(Decision.ACK, NodeBatchStatus.STOPRECEIVED, "stop"), "stopreceived"),
        (BatchOutcome(Decision.RETRY, None, "wait"), "retry"),
        (BatchOutcome(Decision.RETRY, NodeBatchStatus.SUCCESS, "ok; enqueue pending"), "success"),
        (BatchOutcome(Decision.ACK, None, "already success"), "noop"),
    ],
)
def test_outcome_label_names_the_recorded_status_first(outcome: BatchOutcome, label: str) -> None:
    assert outcome_label(outcome) == label


def test_success_counts_started_rows_duration_and_queue_wait(
    metrics: WorkerMetrics, registry: CollectorRegistry
) -> None:
    metrics.batch_done("file_table", SUCCESS, waited_s=2.0, elapsed_s=0.3)
    metrics.batch_done("file_table", BatchOutcome(Decision.RETRY, None, "wait"), waited_s=-1.0, elapsed_s=0.01)
    metrics.batch_done("file_table", None, waited_s=0.5, elapsed_s=0.2)
    ft = {"node_type": "file_table"}
    assert value(registry, "capillaries_batches_total", outcome="success", **ft) == 1
    assert value(registry, "capillaries_batches_total", outcome="retry", **ft) == 1
    assert value(registry, "capillaries_batches_total", outcome="parked", **ft) == 1
    assert value(registry, "capillaries_batches_started_total", **ft) == 1
    assert value(registry, "capillaries_rows_read_total", **ft) == 10
    assert value(registry, "capillaries_rows_written_total", **ft) == 7
    assert value(registry, "capillaries_batch_duration_seconds_count", **ft) == 3
    assert value(registry, "capillaries_batch_duration_seconds_sum", **ft) == pytest.approx(0.51)
    assert value(registry, "capillaries_batch_queue_wait_seconds_count", **ft) == 3
    assert value(registry, "capillaries_batch_queue_wait_seconds_sum", **ft) == pytest.approx(2.5)  # -1 counts as 0


SCRIPT = {
    "nodes": {
        "read": {
            "type": "file_table",
            "r": {"urls": ["a.csv"], "columns": {"c": {"col_type": "int", "csv": {"col_idx": 0}}}},
            "w": {"name": "t1", "fields": {"x": {"expression": "r.c", "type": "int"}}},
        }
    },
    "dependency_policies": {"std": {"is_default": True, "event_priority_order": "run_id(desc)", "rules": []}},
}


def test_node_type_comes_from_the_cached_script_without_loading_one() -> None:
    script = load_script_text(json.dumps(SCRIPT), fmt="json", file="s.json")
    loads: list[str] = []

    def loader(url: str, params: str | None) -> Any:
        loads.append(url)
        return script

    cache = ScriptCache(loader)
    node_type = node_types(cache)
    assert node_type(message()) == "unknown"  # nothing cached yet, and nothing loaded for the metrics
    assert loads == []
    cache("s.json", "")
    assert node_type(message()) == "file_table"
    assert node_type(message("gone")) == "unknown"
    assert node_type_label(None, "read") == "unknown"


class _Processor:
    def __init__(self, result: BatchOutcome | Exception) -> None:
        self.result = result

    def process(self, task: BatchTask) -> BatchOutcome:
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def handler(result: BatchOutcome | Exception, metrics: WorkerMetrics) -> Callable[[BatchTask], HandlerResult]:
    return make_handler(cast(BatchProcessor, _Processor(result)), metrics, lambda msg: "table_table")


def test_handler_counts_each_message_and_maps_the_decision(metrics: WorkerMetrics, registry: CollectorRegistry) -> None:
    assert handler(SUCCESS, metrics)(message()) == HandlerResult.ack()
    retry = BatchOutcome(Decision.RETRY, None, "dependencies not ready")
    assert handler(retry, metrics)(message()).outcome is Outcome.RETRY_LATER
    with pytest.raises(FailureNotRecorded):
        handler(FailureNotRecorded("cannot write"), metrics)(message())
    tt = {"node_type": "table_table"}
    counts = {o: value(registry, "capillaries_batches_total", outcome=o, **tt) for o in ("success", "retry", "parked")}
    assert counts == {"success": 1, "retry": 1, "parked": 1}
    assert value(registry, "capillaries_batches_in_progress") == 0
    assert value(registry, "capillaries_batch_queue_wait_seconds_count", **tt) == 3


class _Future:
    def __init__(self) -> None:
        self.errbacks: list[Callable[[BaseException], None]] = []

    def add_errback(self, fn: Callable[[BaseException], None]) -> None:
        self.errbacks.append(fn)


class _Session:
    def __init__(self) -> None:
        self.listeners: list[Callable[..., None]] = []

    def add_request_init_listener(self, fn: Callable[..., None]) -> None:
        self.listeners.append(fn)


def test_failed_driver_requests_are_counted_by_error_type(metrics: WorkerMetrics, registry: CollectorRegistry) -> None:
    session = _Session()
    metrics.watch_session(cast(Session, session))
    future = _Future()
    for listener in session.listeners:
        listener(future)
    for errback in future.errbacks:
        errback(Unavailable("2 replicas needed"))
    assert value(registry, "capillaries_cassandra_request_errors_total", error="Unavailable") == 1


@pytest.fixture
def installed(metrics: WorkerMetrics) -> Iterator[WorkerMetrics]:
    telemetry.install(metrics)
    yield metrics
    telemetry.install(None)


def test_store_retries_reach_the_metrics(
    installed: WorkerMetrics, registry: CollectorRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "call_statement", partial(retry.call_statement, sleep=lambda s: None))
    calls = iter([OperationTimedOut("slow"), OperationTimedOut("slow"), "rows"])

    def read() -> str:
        result = next(calls)
        if isinstance(result, Exception):
            raise result
        return result

    assert reader._with_retry(read) == "rows"
    assert value(registry, "capillaries_cassandra_retries_total", error="OperationTimedOut") == 2
    telemetry.pycalc_child_started()
    telemetry.pycalc_child_killed("timeout")
    assert value(registry, "capillaries_pycalc_child_starts_total") == 1
    assert value(registry, "capillaries_pycalc_child_kills_total", reason="timeout") == 1


class _Connection:
    def process_data_events(self, time_limit: float) -> None:
        pass


def test_consumer_reports_a_redelivery_after_the_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []
    consumer = Consumer(
        cast(Any, None),
        lambda msg: (order.append("handled"), HandlerResult.ack())[1],
        on_redelivery=lambda msg: order.append(f"redelivered {msg.target_node}"),
    )
    body = encode(message())
    try:
        assert consumer._decide(cast(Any, _Connection()), body, redelivered=False) == HandlerResult.ack()
        assert consumer._decide(cast(Any, _Connection()), body, redelivered=True) == HandlerResult.ack()
    finally:
        consumer._executor.shutdown()
    assert order == ["handled", "handled", "redelivered read"]


def test_metrics_settings_are_off_by_default_on_loopback() -> None:
    assert metrics_settings({}) == MetricsSettings(None, "127.0.0.1")
    assert metrics_settings({"CAPILLARIES_METRICS_PORT": "0"}).port is None
    on = metrics_settings({"CAPILLARIES_METRICS_PORT": "9201", "CAPILLARIES_METRICS_ADDRESS": "0.0.0.0"})
    assert on == MetricsSettings(9201, "0.0.0.0")
    with pytest.raises(ValueError, match="CAPILLARIES_METRICS_PORT must be a TCP port"):
        metrics_settings({"CAPILLARIES_METRICS_PORT": "70000"})
    args = build_parser().parse_args(["worker", "--metrics-port", "9300", "--metrics-address", "0.0.0.0"])
    assert (args.metrics_port, args.metrics_address) == ("9300", "0.0.0.0")


def _record_in_child(outcome: str) -> None:
    """A worker process's share: counters and the live gauge, written to the group's files."""
    metrics = WorkerMetrics()
    metrics.batches.labels("file_table", outcome).inc()
    metrics.rows_written.labels("file_table").inc(5)
    metrics.in_progress.inc()


def _run_child(outcome: str) -> int:
    child = multiprocessing.get_context("spawn").Process(target=_record_in_child, args=(outcome,))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert child.pid is not None
    return child.pid


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_endpoint_sums_every_worker_process_and_forgets_dead_gauges() -> None:
    previous = os.environ.get(MULTIPROC_ENV)
    exporter = MetricsExporter("127.0.0.1", 0)
    directory = exporter.directory
    try:
        assert os.environ[MULTIPROC_ENV] == str(directory) and list(directory.iterdir()) == []
        first, second = _run_child("success"), _run_child("success")
        samples = _scrape(exporter.port)
        ft = (("node_type", "file_table"),)
        assert samples[("capillaries_batches_total", (("node_type", "file_table"), ("outcome", "success")))] == 2
        assert samples[("capillaries_rows_written_total", ft)] == 10
        assert samples[("capillaries_batches_in_progress", ())] == 2
        exporter.process_dead(first)
        exporter.process_dead(second)
        samples = _scrape(exporter.port)
        assert samples[("capillaries_rows_written_total", ft)] == 10  # counters of dead processes stay
        assert samples.get(("capillaries_batches_in_progress", ()), 0) == 0
    finally:
        exporter.close()
    assert not directory.exists()
    assert os.environ.get(MULTIPROC_ENV) == previous


def test_a_port_in_use_fails_at_start_and_leaves_no_directory() -> None:
    def directories() -> set[Path]:
        return set(Path(tempfile.gettempdir()).glob("capillaries-metrics-*"))

    before, env = directories(), os.environ.get(MULTIPROC_ENV)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            MetricsExporter("127.0.0.1", taken.getsockname()[1])
    assert directories() == before
    assert os.environ.get(MULTIPROC_ENV) == env
