"""Starting and stopping runs, and enqueuing node batches once their inputs are complete (spec 5.1, 5.2).

Go enqueues every batch of every affected node at run start and lets not-ready batches bounce in the queue. Here a
node's batches are enqueued only when each of its parents that is affected in the same run has finished: at run
start for nodes without such parents, later by the worker that finishes a parent's last batch ("self-driving"
runs, driver = cli). An LWT claim per (run, node) makes the enqueue happen once; a claim that was never confirmed
(the claimer died between claim and publish) is taken over after a grace period, so a crash cannot stall a run.
Under Airflow (driver = airflow) the node tasks call `enqueue_node` themselves and workers enqueue nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from capillaries_provider.engine.ports import BatchTask, Driver, RunControlPort, WorkflowPort
from capillaries_provider.script.batches import node_batches
from capillaries_provider.script.graph import affected_nodes, parents
from capillaries_provider.script.model import Script
from capillaries_provider.status import NodeBatchStatus, RunStatus


def node_tasks(
    script: Script, node_name: str, *, ks: str, run_id: int, script_url: str, script_params_url: str
) -> list[BatchTask]:
    """One task per batch of the node (spec 1.14)."""
    ranges = node_batches(script.nodes[node_name])
    return [
        BatchTask(
            ks=ks,
            run_id=run_id,
            target_node=node_name,
            batch_idx=i,
            batches_total=len(ranges),
            first_token=r.first_token,
            last_token=r.last_token,
            script_url=script_url,
            script_params_url=script_params_url,
        )
        for i, r in enumerate(ranges)
    ]


def ready_nodes(script: Script, affected: Sequence[str], statuses: Mapping[str, NodeBatchStatus]) -> list[str]:
    """Affected, unfinished nodes whose parents affected in this run have all finished (in affected order).

    A parent that failed or was stopped still releases its children: their batches then record nogo/stopreceived,
    which is what lets the node and the run reach a final status.
    """
    in_run = set(affected)
    out = []
    for name in affected:
        if statuses.get(name, NodeBatchStatus.NONE).finished:
            continue
        if all(statuses.get(p, NodeBatchStatus.NONE).finished for p in parents(script, name) if p in in_run):
            out.append(name)
    return out


def enqueue_node(
    port: WorkflowPort, script: Script, node_name: str, *, ks: str, run_id: int, script_url: str, script_params_url: str
) -> bool | None:
    """Publish the node's batches unless already done: True = published now, False = already published,
    None = another process holds a fresh claim (ask again later)."""
    claim = port.claim_enqueue(ks, run_id, node_name)
    if not claim:
        return claim
    tasks = node_tasks(
        script, node_name, ks=ks, run_id=run_id, script_url=script_url, script_params_url=script_params_url
    )
    port.publish(tasks)
    port.confirm_enqueued(ks, run_id, node_name)
    return True


def enqueue_ready_nodes(
    port: WorkflowPort, script: Script, *, ks: str, run_id: int, script_url: str, script_params_url: str
) -> bool:
    """Self-driving step after a node finished: enqueue every ready node of a cli-driven run.

    Returns False when some ready node is claimed by another process that has not confirmed yet, so the caller
    should check again later (retry its message) instead of relying on that process.
    """
    if port.run_driver(ks, run_id) is not Driver.CLI:
        return True
    affected = port.affected_nodes(ks, run_id)
    statuses = port.node_statuses(ks, run_id)
    settled = True
    for name in ready_nodes(script, affected, statuses):
        if name not in script.nodes:
            continue
        done = enqueue_node(
            port, script, name, ks=ks, run_id=run_id, script_url=script_url, script_params_url=script_params_url
        )
        settled = settled and done is not None
    return settled


def start_run(
    port: RunControlPort,
    script: Script,
    *,
    ks: str,
    script_url: str,
    script_params_url: str,
    start_nodes: Sequence[str],
    description: str,
    driver: Driver = Driver.CLI,
) -> int:
    """Start a run and return its id: keyspace, run id, properties, tables, status start, first batches.

    Tables of every affected node are created before any message is sent (spec 3.3). With driver cli the nodes
    that do not wait for another affected node are enqueued here; the workers enqueue the rest.
    """
    if not start_nodes:
        raise ValueError("at least one start node is required")
    unknown = [n for n in start_nodes if n not in script.nodes]
    if unknown:
        raise ValueError(f"start node(s) not in script {script.file}: {', '.join(unknown)}")
    affected = affected_nodes(script, start_nodes)
    port.ensure_keyspace(ks)
    run_id = port.next_run_id(ks)
    port.write_run_properties(ks, run_id, start_nodes, affected, script_url, script_params_url, description)
    port.set_run_driver(ks, run_id, driver)
    creators = [c for c in (script.nodes[n].table_creator for n in affected) if c is not None]
    port.create_run_tables(ks, run_id, creators)
    port.set_run_status(ks, run_id, RunStatus.START, f"started by {driver.value}: {description}".rstrip(": "))
    if driver is Driver.CLI:
        try:
            for name in ready_nodes(script, affected, {}):
                enqueue_node(
                    port, script, name, ks=ks, run_id=run_id, script_url=script_url, script_params_url=script_params_url
                )
        except Exception as exc:
            # Without its first batches the run could never finish: record it as stopped, with the reason.
            port.set_run_status(ks, run_id, RunStatus.STOP, f"could not enqueue the first batches: {exc}")
            raise
    return run_id


def stop_run(port: RunControlPort, *, ks: str, run_id: int, comment: str) -> None:
    """Record the stop (spec 5.2); batches delivered later are marked stopreceived by the workers."""
    port.set_run_status(ks, run_id, RunStatus.STOP, comment)
