"""One node of a script, run in this process without the queue (Go's toolbelt `exec_node`, spec 8.2).

For debugging a node: a run gets the node as its only start node and the tables of its affected nodes, then each
batch goes through the worker's own state machine (`BatchProcessor`: dependency check, processor, batch and node
status), one after the other. The run's driver is `exec_node`, so nothing is enqueued: downstream nodes are left
alone and, as in Go, the run is marked complete at the end. An existing run id (Go: "use with extra caution") is
accepted only while that run is started and has the node among its affected nodes; batches it already finished
are not redone, the state machine just acknowledges them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from capillaries_provider.engine.batch import BatchOutcome, BatchProcessor, Decision
from capillaries_provider.engine.ports import BatchTask, DataStore, Driver, RunControlPort
from capillaries_provider.engine.run import node_tasks
from capillaries_provider.script.graph import affected_nodes
from capillaries_provider.script.model import Script
from capillaries_provider.status import NodeBatchStatus, RunStatus


class ExecPort(RunControlPort, DataStore, Protocol):
    """Workflow tables and data tables of one backend (CassandraBackend, or a fake in tests)."""


class ExecNodeError(Exception):
    """The node cannot be executed (bad node or run id, a batch that cannot go on); the message says why."""


@dataclass(frozen=True)
class ExecResult:
    run_id: int
    node: str
    outcomes: tuple[tuple[BatchTask, BatchOutcome], ...]

    @property
    def failed(self) -> list[tuple[BatchTask, BatchOutcome]]:
        return [(t, o) for t, o in self.outcomes if o.recorded not in (NodeBatchStatus.SUCCESS, None)]


def _prepare_run(port: ExecPort, script: Script, node: str, ks: str, run_id: int, urls: tuple[str, str]) -> int:
    """A new run (run_id 0) with its properties, driver, tables and start status, or checks on an existing run."""
    if run_id:
        existing = port.affected_nodes(ks, run_id)
        if not existing:
            raise ExecNodeError(f"run {run_id} does not exist in keyspace {ks}; leave out the run id for a new run")
        status = port.run_status(ks, run_id)
        if status is not RunStatus.START:
            raise ExecNodeError(f"run {run_id} in {ks} is {status.label}; exec-node can only add to a started run")
        if node not in existing:
            raise ExecNodeError(f"node {node} is not among the affected nodes of run {run_id}: {','.join(existing)}")
        return run_id
    run_id = port.next_run_id(ks)
    affected = affected_nodes(script, [node])
    description = f"capillaries exec-node {node}"
    port.write_run_properties(ks, run_id, [node], affected, urls[0], urls[1], description)
    port.set_run_driver(ks, run_id, Driver.EXEC_NODE)
    creators = [c for c in (script.nodes[n].table_creator for n in affected) if c is not None]
    port.create_run_tables(ks, run_id, creators)
    port.set_run_status(ks, run_id, RunStatus.START, description)
    return run_id


def exec_node(
    port: ExecPort,
    script: Script,
    node: str,
    *,
    ks: str,
    run_id: int = 0,
    script_url: str,
    script_params_url: str,
    on_batch: Callable[[BatchTask, BatchOutcome], None] = lambda task, outcome: None,
) -> ExecResult:
    """Run every batch of `node` through the batch state machine; a batch that would be retried (dependencies not
    ready, storage unreachable) stops the execution, failed batches do not (Go acks them and goes on)."""
    if node not in script.nodes:
        raise ExecNodeError(f"node {node} is not in script {script.file}")
    if run_id < 0:
        raise ExecNodeError(f"run id must be 0 (a new run) or more, got {run_id}")
    port.ensure_keyspace(ks)
    run_id = _prepare_run(port, script, node, ks, run_id, (script_url, script_params_url))
    processor = BatchProcessor(port, port, lambda url, params: script)
    outcomes: list[tuple[BatchTask, BatchOutcome]] = []
    for task in node_tasks(
        script, node, ks=ks, run_id=run_id, script_url=script_url, script_params_url=script_params_url
    ):
        outcome = processor.process(task)
        on_batch(task, outcome)
        if outcome.decision is Decision.RETRY:
            raise ExecNodeError(f"{task.full_id}: {outcome.detail}")
        outcomes.append((task, outcome))
    result = ExecResult(run_id, node, tuple(outcomes))
    port.set_run_status(
        ks,
        run_id,
        RunStatus.COMPLETE,
        f"capillaries exec-node {node}: {len(outcomes)} batches, {len(result.failed)} failed",
    )
    return result
