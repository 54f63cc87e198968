"""Re-running one node inside an existing run: what "clear this task" in Airflow means for Capillaries.

Capillaries itself has no per-node re-run (spec 5.7: runs are immutable); Airflow users expect clearing a node task
to redo that node for the same run. Resetting empties the node's data and index tables, forgets its batch and node
history and its enqueue claim (so its batches are sent and processed again instead of being acked as done, spec
5.3 step 6) and lifts the run's
`complete`/`stop` records (workers ack batches of such runs without processing them, spec 5.3 step 3). Built on the
store's session and workflow tables; no Airflow imports.
"""

from __future__ import annotations

from collections.abc import Iterable

from cassandra.cluster import Session

from capillaries_provider.script.model import Node
from capillaries_provider.script.names import validate_identifier, validate_keyspace_name
from capillaries_provider.status import RunStatus
from capillaries_provider.store.tables import run_table_name
from capillaries_provider.store.workflow import WorkflowStore
from capillaries_provider.worker.backend import forget_enqueue_claim


def node_tables(node: Node) -> list[str]:
    """Script names of the tables a node writes: its data table and the index tables on it."""
    if node.table_creator is None:
        return []
    return [node.table_creator.name, *node.table_creator.indexes]


def node_has_history(store: WorkflowStore, run_id: int, node: str) -> bool:
    """True once any batch of the node was started in the run (so running it again needs a reset first)."""
    return bool(store.read_batch_history(run_id, node)) or any(
        e.script_node == node for e in store.read_node_history(run_id)
    )


def reset_node(session: Session, ks: str, run_id: int, node: str, tables: Iterable[str]) -> None:
    """Empty the node's run tables, forget its batch/node history and reopen the run."""
    validate_keyspace_name(ks)
    for table in tables:
        validate_identifier(table, "table")
        session.execute(f"TRUNCATE {ks}.{run_table_name(table, run_id)}")
    session.execute(f"DELETE FROM {ks}.wf_batch_history WHERE run_id = %s AND script_node = %s", (run_id, node))
    session.execute(f"DELETE FROM {ks}.wf_node_history WHERE run_id = %s AND script_node = %s", (run_id, node))
    forget_enqueue_claim(session, ks, run_id, node)  # else the node counts as enqueued and nothing is sent again
    reopen_run(session, ks, run_id)


def reopen_run(session: Session, ks: str, run_id: int) -> None:
    """Remove the run's `complete` and `stop` records so that workers process its batches again."""
    validate_keyspace_name(ks)
    for status in (RunStatus.COMPLETE, RunStatus.STOP):
        session.execute(f"DELETE FROM {ks}.wf_run_history WHERE run_id = %s AND status = %s", (run_id, int(status)))
