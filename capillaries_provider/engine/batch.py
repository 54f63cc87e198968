"""The batch state machine (spec 5.3): what a worker does with one batch message, in Capillaries' order.

Outcome ACK = the message is done (a status was recorded, or there is nothing left to do); RETRY = redeliver later
(dependencies not ready, another worker's attempt still within its grace period, storage unreachable).

Deliberate fixes of Go quirks (spec 10), all so that a run always reaches a final status:
- a script that cannot be loaded, a node missing from the script, a dependency that cannot be resolved
  (quirk 11) and a `rerun_policy: fail` batch found started (quirk 10) record a batch `fail` naming the cause
  (Go acks silently and the run never completes);
- a batch found started past its grace period is simply processed again: row ids are deterministic, so the redo
  overwrites the same rows and no cleanup scan is needed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass

from capillaries_provider.engine.dependency import DecisionCache, DependencyDecision, decide
from capillaries_provider.engine.ports import BatchTask, DataStore, DependencyLookupError, WorkflowPort
from capillaries_provider.engine.processors.context import BatchJob, BatchStats
from capillaries_provider.engine.processors.registry import Processor, processor_for
from capillaries_provider.engine.run import enqueue_ready_nodes
from capillaries_provider.script.errors import Problem, ScriptLoadError
from capillaries_provider.script.graph import dependency_nodes
from capillaries_provider.script.model import DependencyCmd, Node, NodeType, RerunPolicy, Script
from capillaries_provider.status import NodeBatchStatus, RunStatus

log = logging.getLogger(__name__)

ScriptSource = Callable[[str, str], Script]


class Decision(enum.Enum):
    ACK = "ack"
    RETRY = "retry"


@dataclass(frozen=True)
class BatchOutcome:
    """What happened to a message: the broker decision, the batch status recorded now (if any) and why.

    `started`: this message recorded the batch `start` and ran its processor; `stats`: the processor's counts when
    it succeeded. The worker's metrics read both.
    """

    decision: Decision
    recorded: NodeBatchStatus | None
    detail: str
    stats: BatchStats | None = None
    started: bool = False


class FailureNotRecorded(Exception):
    """A batch failed and writing its failure failed too: the queue layer parks the message (nothing else can)."""


def _ack(recorded: NodeBatchStatus | None, detail: str) -> BatchOutcome:
    return BatchOutcome(Decision.ACK, recorded, detail)


def _retry(detail: str) -> BatchOutcome:
    return BatchOutcome(Decision.RETRY, None, detail)


class BatchProcessor:
    """Runs the state machine for one message at a time over a workflow port, a data store and a script source."""

    def __init__(
        self,
        port: WorkflowPort,
        data: DataStore,
        scripts: ScriptSource,
        *,
        heartbeat: Callable[[], None] = lambda: None,
        processors: Callable[[NodeType], Processor] = processor_for,
        decisions: DecisionCache | None = None,
    ) -> None:
        """`decisions`: the worker's dependency decision cache (spec 5.5); without one every batch decides anew."""
        self.port = port
        self.data = data
        self.scripts = scripts
        self.heartbeat = heartbeat
        self.processors = processors
        self.decisions = decisions

    def process(self, task: BatchTask) -> BatchOutcome:
        """Process one batch message: the one place that records a batch's failure, so the layers above only map
        the outcome to the broker.

        Transient storage errors anywhere mean RETRY with nothing recorded; any other error ends as the batch's
        `fail` (an unexpected one as "internal error"), so the run does not hang silently. Only when that write
        fails too does FailureNotRecorded propagate.
        """
        try:
            return self._process(task)
        except Exception as exc:
            if self.port.is_transient(exc):
                return _retry(f"storage unavailable: {type(exc).__name__}: {exc}")
            log.exception("%s: batch processing raised", task.full_id)
            return self._record_internal_error(task, exc)

    # -- steps --------------------------------------------------------------------------------------------------

    def _process(self, task: BatchTask) -> BatchOutcome:
        port = self.port
        run_status = port.run_status(task.ks, task.run_id)
        if run_status is RunStatus.NONE:
            return self._finish(task, None, NodeBatchStatus.FAIL, f"run {task.run_id} was never started in {task.ks}")
        if run_status is RunStatus.STOP:
            # The script is only needed to release the downstream nodes, which then record stopreceived too.
            return self._finish(task, self._script_or_none(task), NodeBatchStatus.STOPRECEIVED, "run was stopped")
        if run_status is not RunStatus.START:
            return _ack(None, f"run {task.run_id} is already {run_status.label}")

        try:
            script = self.scripts(task.script_url, task.script_params_url)
        except ScriptLoadError as exc:
            if exc.problem is Problem.CONNECTIVITY:
                return _retry(f"cannot fetch script {task.script_url}: {exc}")
            return self._finish(task, None, NodeBatchStatus.FAIL, f"cannot load script {task.script_url}: {exc}")
        node = script.nodes.get(task.target_node)
        if node is None:
            return self._finish(
                task, None, NodeBatchStatus.FAIL, f"node {task.target_node} is not in {task.script_url}"
            )

        events = port.batch_events(task.ks, task.run_id, task.target_node, task.batch_idx)
        last = max(events, key=lambda e: e.ts, default=None)
        if last is not None:
            if last.status in (NodeBatchStatus.SUCCESS, NodeBatchStatus.FAIL):
                # Already done: repair a crash between the batch write and the node/run refresh.
                return self._refresh(task, script, None, f"batch already {last.status.label}")
            if last.status is NodeBatchStatus.STOPRECEIVED:
                return _ack(None, "batch already received the stop")
            if last.status is NodeBatchStatus.START:
                if node.rerun_policy is RerunPolicy.FAIL:
                    return self._finish(
                        task,
                        script,
                        NodeBatchStatus.FAIL,
                        f"batch {task.full_id} was found started by an earlier attempt and the node has"
                        " rerun_policy fail",
                    )
                grace = dt.timedelta(milliseconds=node.max_batch_processing_time_ms)
                if port.now() < last.ts + grace:
                    return _retry(f"batch started at {last.ts.isoformat()} is within its grace period {grace}")
                log.warning("%s: redoing a batch left in start since %s", task.full_id, last.ts.isoformat())

        deps = [d for d in dict.fromkeys(dependency_nodes(script, node)) if d is not None]

        def decide_now() -> DependencyDecision:
            return decide(script, node, port.dependency_entries(task.ks, task.run_id, deps) if deps else {})

        try:
            if self.decisions is None:
                decision = decide_now()
            else:
                decision = self.decisions.decide(task.ks, task.run_id, task.target_node, decide_now)
        except DependencyLookupError as exc:
            return self._finish(task, script, NodeBatchStatus.FAIL, f"dependency check failed: {exc}")
        if decision.cmd is DependencyCmd.WAIT:
            return _retry(f"dependencies not ready: {decision.reason}")
        if decision.cmd is DependencyCmd.NOGO:
            return self._finish(task, script, NodeBatchStatus.FAIL, f"dependency nogo: {decision.reason}")

        port.set_node_status(
            task.ks,
            task.run_id,
            task.target_node,
            task.batch_idx,
            NodeBatchStatus.START,
            f"marked started by batch {task.batch_idx} / {task.batches_total}",
        )
        port.set_batch_status(task, NodeBatchStatus.START, "")
        return dataclasses.replace(self._run(task, script, node, decision), started=True)

    def _run(self, task: BatchTask, script: Script, node: Node, decision: DependencyDecision) -> BatchOutcome:
        """The batch is recorded started: run its processor and record how it ended."""
        port = self.port
        job = BatchJob(
            task=task,
            script=script,
            node=node,
            data=self.data,
            reader_run_id=decision.reader_run_id,
            lookup_run_id=decision.lookup_run_id,
            heartbeat=self.heartbeat,
        )
        try:
            stats = self.processors(node.type)(job)
        except Exception as exc:
            if port.is_transient(exc):
                # The batch stays `start`; the redelivery waits out the grace period and redoes it (spec 5.3 #11).
                return _retry(f"storage unavailable while processing: {type(exc).__name__}: {exc}")
            log.info("%s failed: %s", task.full_id, exc)
            return self._finish(task, script, NodeBatchStatus.FAIL, f"{task.full_id}: {_describe(exc)}")
        done = self._finish(task, script, NodeBatchStatus.SUCCESS, stats.comment())
        return dataclasses.replace(done, stats=stats)

    def _record_internal_error(self, task: BatchTask, exc: Exception) -> BatchOutcome:
        """A bug or an unexpected storage error: recorded on the batch (no script, so nothing is enqueued)."""
        try:
            return self._finish(task, None, NodeBatchStatus.FAIL, f"{task.full_id}: internal error: {exc!r}")
        except Exception as record_exc:
            if self.port.is_transient(record_exc):
                return _retry(f"cannot record failure now: {record_exc}")
            raise FailureNotRecorded(f"internal error {exc!r}; recording it failed: {record_exc!r}") from record_exc

    def _script_or_none(self, task: BatchTask) -> Script | None:
        try:
            return self.scripts(task.script_url, task.script_params_url)
        except ScriptLoadError:
            return None

    def _finish(self, task: BatchTask, script: Script | None, status: NodeBatchStatus, comment: str) -> BatchOutcome:
        """Record the batch's final status, then refresh node and run."""
        self.port.set_batch_status(task, status, comment)
        return self._refresh(task, script, status, comment)

    def _refresh(
        self, task: BatchTask, script: Script | None, recorded: NodeBatchStatus | None, detail: str
    ) -> BatchOutcome:
        refreshed = self.port.refresh_node_and_run_status(task.ks, task.run_id, task.target_node, task.batch_idx)
        if refreshed.node_status is not None and script is not None:
            settled = enqueue_ready_nodes(
                self.port,
                script,
                ks=task.ks,
                run_id=task.run_id,
                script_url=task.script_url,
                script_params_url=task.script_params_url,
            )
            if not settled:
                # Another worker claimed a downstream node moments ago; come back to make sure it was published.
                return BatchOutcome(Decision.RETRY, recorded, detail + "; downstream enqueue pending elsewhere")
        return _ack(recorded, detail)


def _describe(exc: BaseException) -> str:
    """Error text for the batch history: our own errors already name the place; others get their type."""
    text = str(exc)
    if type(exc).__module__.startswith("capillaries_provider"):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}"
