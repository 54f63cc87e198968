"""Node and run progress from workflow history: the pure decisions the triggers and sensors make on each poll."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from capillaries_provider.status import NodeBatchStatus, RunStatus
from capillaries_provider.store.workflow import BatchHistoryEvent


@dataclass(frozen=True)
class NodeProgress:
    """Where a node's batches stand: each batch counted by its latest status row."""

    total: int
    succeeded: int
    failed: int
    stopped: int
    started: int
    first_error: str = ""

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed + self.stopped

    @property
    def done(self) -> bool:
        return self.total > 0 and self.finished >= self.total

    @property
    def outcome(self) -> NodeBatchStatus | None:
        """fail if any batch failed, else stopreceived if any saw the run stop, else success; None until done."""
        if not self.done:
            return None
        if self.failed:
            return NodeBatchStatus.FAIL
        if self.stopped:
            return NodeBatchStatus.STOPRECEIVED
        return NodeBatchStatus.SUCCESS

    def describe(self) -> str:
        text = f"batches {self.finished}/{self.total} done"
        extras = [f"{n} {label}" for n, label in ((self.failed, "failed"), (self.stopped, "stopped")) if n]
        if self.started:
            extras.append(f"{self.started} running")
        return f"{text} ({', '.join(extras)})" if extras else text


def node_progress(events: Iterable[BatchHistoryEvent], expected_total: int) -> NodeProgress:
    """Count batches by latest status; `batches_total` on the rows wins over `expected_total` (from the script)."""
    latest: dict[int, BatchHistoryEvent] = {}
    total = expected_total
    for e in sorted(events, key=lambda e: e.ts):
        latest[e.batch.batch_idx] = e
        total = e.batch.batches_total or total
    counts = {s: 0 for s in NodeBatchStatus}
    first_error = ""
    for idx in sorted(latest):
        e = latest[idx]
        counts[e.status] += 1
        if e.status is NodeBatchStatus.FAIL and not first_error:
            first_error = f"batch {idx}: {e.comment or 'failed without a message'}"
    return NodeProgress(
        total=total,
        succeeded=counts[NodeBatchStatus.SUCCESS],
        failed=counts[NodeBatchStatus.FAIL],
        stopped=counts[NodeBatchStatus.STOPRECEIVED],
        started=counts[NodeBatchStatus.START],
        first_error=first_error,
    )


@dataclass(frozen=True)
class RunProgress:
    """A run's state: its latest run status and the status of every affected node."""

    status: RunStatus
    nodes: Mapping[str, NodeBatchStatus]

    @property
    def not_succeeded(self) -> dict[str, NodeBatchStatus]:
        return {n: s for n, s in self.nodes.items() if s is not NodeBatchStatus.SUCCESS}

    def describe(self) -> str:
        done = sum(1 for s in self.nodes.values() if s.finished)
        return f"run {self.status.name.lower()}: nodes {done}/{len(self.nodes)} finished"


def run_progress(status: RunStatus, affected: Sequence[str], statuses: Mapping[str, NodeBatchStatus]) -> RunProgress:
    return RunProgress(status=status, nodes={n: statuses.get(n, NodeBatchStatus.NONE) for n in affected})
