"""Triggers that watch a node's batches or a whole run in Cassandra while no Airflow worker slot is held.

cassandra-driver is synchronous, so every query runs in a thread (`asyncio.to_thread`) and the triggerer loop never
blocks. One session per trigger for its whole life, closed in `cleanup()`. Stopping the Capillaries run happens in
`on_kill()` (a user marked the task failed/succeeded or cleared it), never in `cleanup()`, so a triggerer restart
does not cancel work.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TaskSuccessEvent, TriggerEvent
from cassandra.cluster import Session

from capillaries_provider.hooks.capillaries import DEFAULT_CASSANDRA_CONN_ID, CapillariesHook
from capillaries_provider.hooks.run_control import stop_run
from capillaries_provider.status import NodeBatchStatus, RunStatus
from capillaries_provider.store.session import close, connect
from capillaries_provider.store.workflow import WorkflowStore, decide_node_status
from capillaries_provider.triggers.progress import NodeProgress, RunProgress, node_progress, run_progress

KILL_COMMENT = "stopped from Airflow: task {task} was killed, marked or cleared by a user"

# A node's next task can only start once this trigger has seen the node's last batch succeed, so the poll interval
# is most of the Airflow hand-off between nodes (about half of it on average). One poll is two small partition
# reads (the node's batch rows, the run status) in a thread; 1 s keeps the median hand-off well under 2 s
# (docs/performance.md) at a cost of two reads per second per waiting node. Raise it for scripts with hundreds of
# nodes waiting at once or with very long nodes (`node_operator_kwargs={"poll_interval": 10}`).
NODE_POLL_INTERVAL_S = 1.0


class _CassandraWatcher(BaseTrigger):
    """Shared plumbing: a lazily opened session and the stop-on-kill behaviour."""

    def __init__(
        self,
        *,
        keyspace: str,
        run_id: int,
        cassandra_conn_id: str = DEFAULT_CASSANDRA_CONN_ID,
        poll_interval: float = 5.0,
        stop_run_on_kill: bool = False,
    ) -> None:
        super().__init__()
        self.keyspace = keyspace
        self.run_id = int(run_id)
        self.cassandra_conn_id = cassandra_conn_id
        self.poll_interval = float(poll_interval)
        self.stop_run_on_kill = stop_run_on_kill
        self._session: Session | None = None

    def _base_kwargs(self) -> dict[str, Any]:
        return {
            "keyspace": self.keyspace,
            "run_id": self.run_id,
            "cassandra_conn_id": self.cassandra_conn_id,
            "poll_interval": self.poll_interval,
            "stop_run_on_kill": self.stop_run_on_kill,
        }

    async def _store(self) -> WorkflowStore:
        if self._session is None:
            settings = await CapillariesHook(cassandra_conn_id=self.cassandra_conn_id).acassandra_settings()
            self._session = await asyncio.to_thread(connect, settings, self.keyspace)
        return WorkflowStore(self._session, self.keyspace)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """The first event of `_watch()`, then the session is closed."""
        try:
            async for event in self._watch():
                yield event
                return
        finally:
            await self.cleanup()

    def _watch(self) -> AsyncIterator[TriggerEvent]:
        raise NotImplementedError

    async def cleanup(self) -> None:
        """Close the session; also run by `run()` itself, since `dag.test()` never calls `cleanup()`."""
        session, self._session = self._session, None
        if session is not None:
            await asyncio.to_thread(close, session)

    async def on_kill(self) -> None:
        if not self.stop_run_on_kill:
            return
        try:
            store = await self._store()
            task = getattr(self, "task_id", "?")
            await asyncio.to_thread(stop_run, store, self.run_id, KILL_COMMENT.format(task=task))
            self.log.info("stopped Capillaries run %s/%s", self.keyspace, self.run_id)
        finally:
            await self.cleanup()


class CapillariesNodeTrigger(_CassandraWatcher):
    """Fires once every batch of `node` in the run has a terminal status, or when the run is stopped.

    Event payload: `{"status": "success" | "failed" | "stopped", "message", "node", "run_id", "succeeded",
    "total"}`; the message of a failure is the failing batch's error text.

    With `end_from_trigger`, a success ends the task from the triggerer (a `TaskSuccessEvent` whose XCom
    `return_value` is that payload) instead of resuming it on a worker: under the scheduler, the resume (scheduling
    it, starting a task process that parses the DAG file, reporting back) was about 2 s of every node hand-off
    (docs/performance.md). A failure or a stop still resumes the task, so the error is raised in the task's own log
    and its retries apply.
    """

    def __init__(
        self,
        *,
        node: str,
        batches_total: int = 0,
        poll_interval: float = NODE_POLL_INTERVAL_S,
        end_from_trigger: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(poll_interval=poll_interval, **kwargs)
        self.node = node
        self.batches_total = int(batches_total)
        self.end_from_trigger = bool(end_from_trigger)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        kwargs = self._base_kwargs()
        kwargs.update(node=self.node, batches_total=self.batches_total, end_from_trigger=self.end_from_trigger)
        return f"{type(self).__module__}.{type(self).__qualname__}", kwargs

    def _event(self, progress: NodeProgress) -> TriggerEvent:
        payload = self._payload(progress)
        if self.end_from_trigger and payload["status"] == "success":
            self.log.info("%s", payload["message"])
            return TaskSuccessEvent(xcoms={"return_value": payload})
        return TriggerEvent(payload)

    async def _watch(self) -> AsyncIterator[TriggerEvent]:
        store = await self._store()
        last = ""
        while True:
            events = await asyncio.to_thread(store.read_batch_history, self.run_id, self.node)
            progress = node_progress(events, self.batches_total)
            text = progress.describe()
            if text != last:
                self.log.info("%s/%s/%s: %s", self.keyspace, self.run_id, self.node, text)
                last = text
            if progress.done:
                yield self._event(progress)
                return
            status = await asyncio.to_thread(store.run_status, self.run_id)
            if status is RunStatus.STOP:
                yield self._event(progress)
                return
            await asyncio.sleep(self.poll_interval)

    def _payload(self, progress: NodeProgress) -> dict[str, Any]:
        """The event of a finished node, or of an unfinished one whose run was stopped."""
        where = f"node {self.node} of run {self.keyspace}/{self.run_id}"
        outcome = progress.outcome
        if outcome is NodeBatchStatus.SUCCESS:
            status, message = "success", f"{where} succeeded: {progress.describe()}"
        elif outcome is NodeBatchStatus.FAIL:
            status, message = "failed", f"{where} failed: {progress.first_error}"
        else:
            status, message = "stopped", f"{where} stopped: the run was stopped ({progress.describe()})"
        return {
            "status": status,
            "message": message,
            "node": self.node,
            "run_id": self.run_id,
            "succeeded": progress.succeeded,
            "total": progress.total,
        }


class CapillariesRunTrigger(_CassandraWatcher):
    """Fires when the run is complete (every affected node finished) or stopped.

    Event payload: `{"status": "success" | "failed" | "stopped", "message", "run_id", "nodes": {node: status}}`.
    """

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", self._base_kwargs()

    async def _watch(self) -> AsyncIterator[TriggerEvent]:
        store = await self._store()
        last = ""
        while True:
            progress = await asyncio.to_thread(read_run_progress, store, self.run_id)
            text = progress.describe()
            if text != last:
                self.log.info("%s/%s: %s", self.keyspace, self.run_id, text)
                last = text
            if progress.status in (RunStatus.COMPLETE, RunStatus.STOP):
                yield TriggerEvent(run_payload(self.keyspace, self.run_id, progress))
                return
            await asyncio.sleep(self.poll_interval)


def read_run_progress(store: WorkflowStore, run_id: int) -> RunProgress:
    """Run status plus every affected node's status decided from its batch history (spec 5.6)."""
    props = store.read_run_properties(run_id)
    if props is None:
        raise ValueError(f"run {run_id} does not exist in keyspace {store.ks}")
    statuses = {}
    for node in props.affected_nodes:
        decided = decide_node_status(store.read_batch_history(run_id, node))
        statuses[node] = NodeBatchStatus.NONE if decided is None else decided
    return run_progress(store.run_status(run_id), props.affected_nodes, statuses)


def run_payload(keyspace: str, run_id: int, progress: RunProgress) -> dict[str, Any]:
    bad = progress.not_succeeded
    nodes = {n: s.label for n, s in progress.nodes.items()}
    status = "stopped" if progress.status is RunStatus.STOP else "failed" if bad else "success"
    detail = ", ".join(f"{n}={s.label}" for n, s in bad.items())
    message = f"run {keyspace}/{run_id} {status}" + (f" (not succeeded: {detail})" if bad else "")
    return {"status": status, "message": message, "run_id": run_id, "nodes": nodes}
