"""Run progress as the CLI shows it: run status, per-node status and batch counts, first batch errors."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from capillaries_provider.retry import cassandra_transient
from capillaries_provider.status import NodeBatchStatus, RunStatus
from capillaries_provider.store.workflow import (
    BatchHistoryEvent,
    RunProperties,
    WorkflowStore,
    latest_batch_event,
    node_statuses,
)


@dataclass(frozen=True)
class NodeProgress:
    node: str
    status: NodeBatchStatus
    batches_total: int
    batches_finished: int
    batches_failed: int
    errors: tuple[str, ...] = ()  # "batch i: comment" of failed batches (first few)


@dataclass(frozen=True)
class RunReport:
    run_id: int
    status: RunStatus
    props: RunProperties | None
    nodes: tuple[NodeProgress, ...] = field(default_factory=tuple)

    @property
    def succeeded(self) -> bool:
        return self.status is RunStatus.COMPLETE and all(n.status is NodeBatchStatus.SUCCESS for n in self.nodes)

    @property
    def failed_nodes(self) -> list[NodeProgress]:
        return [n for n in self.nodes if n.status in (NodeBatchStatus.FAIL, NodeBatchStatus.STOPRECEIVED)]

    @property
    def pending_nodes(self) -> list[NodeProgress]:
        return [n for n in self.nodes if not n.status.finished]


def final_run_status(wf: WorkflowStore, run_id: int) -> RunStatus:
    """stop wins over complete, complete over start (lifespan view, spec 5.8)."""
    seen = {e.status for e in wf.read_run_history(run_id)}
    for s in (RunStatus.STOP, RunStatus.COMPLETE, RunStatus.START):
        if s in seen:
            return s
    return RunStatus.NONE


def node_progress(
    wf: WorkflowStore, run_id: int, node: str, status: NodeBatchStatus, max_errors: int = 3
) -> NodeProgress:
    events = wf.read_batch_history(run_id, node)
    by_batch: dict[int, list[BatchHistoryEvent]] = {}
    for e in events:
        by_batch.setdefault(e.batch.batch_idx, []).append(e)
    total = events[0].batch.batches_total if events else 0
    finished = failed = 0
    errors: list[str] = []
    for idx in sorted(by_batch):
        last = latest_batch_event(by_batch[idx])
        if last is None:
            continue
        if last.status.finished:
            finished += 1
        if last.status is NodeBatchStatus.FAIL:
            failed += 1
            if len(errors) < max_errors:
                errors.append(f"batch {idx}: {last.comment}")
    return NodeProgress(node, status, total, finished, failed, tuple(errors))


def run_report(wf: WorkflowStore, run_id: int) -> RunReport:
    props = wf.read_run_properties(run_id)
    statuses = {n: s for (r, n), s in node_statuses(wf.read_node_history(run_id)).items() if r == run_id}
    nodes = tuple(
        node_progress(wf, run_id, n, statuses.get(n, NodeBatchStatus.NONE))
        for n in (props.affected_nodes if props else ())
    )
    return RunReport(run_id, final_run_status(wf, run_id), props, nodes)


def wait_for_run(wf: WorkflowStore, run_id: int, timeout_s: float, poll_s: float = 0.5) -> tuple[RunReport, bool]:
    """Poll until the run is complete or stopped; returns (report, timed_out)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            status = final_run_status(wf, run_id)
        except Exception as exc:
            if not cassandra_transient(exc):
                raise
            status = RunStatus.START  # Cassandra briefly unreachable: keep waiting, the driver reconnects
        if status in (RunStatus.COMPLETE, RunStatus.STOP):
            return run_report(wf, run_id), False
        if time.monotonic() >= deadline:
            return run_report(wf, run_id), True
        time.sleep(poll_s)


def describe(report: RunReport) -> list[str]:
    """Human-readable lines: the run, then one line per node with batch progress and first errors."""
    lines = [f"run {report.run_id}: {report.status.name.lower()}"]
    for n in report.nodes:
        lines.append(
            f"  {n.node}: {n.status.label} ({n.batches_finished}/{n.batches_total} batches finished,"
            f" {n.batches_failed} failed)"
        )
        lines.extend(f"    {e}" for e in n.errors)
    return lines
