"""Wait-only sensors for a Capillaries node or run (e.g. one started by `capillaries run start` or another DAG).

Deferrable by default: the wait runs in the triggerer. With `deferrable=False` they poke (or reschedule) like any
sensor. Watching never stops the run: killing a sensor only stops the waiting.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator, Context
from airflow.sdk.exceptions import AirflowException

from capillaries_provider.hooks.capillaries import DEFAULT_CASSANDRA_CONN_ID, CapillariesHook
from capillaries_provider.status import NodeBatchStatus, RunStatus
from capillaries_provider.store.workflow import WorkflowStore
from capillaries_provider.triggers.capillaries import (
    CapillariesNodeTrigger,
    CapillariesRunTrigger,
    read_run_progress,
    run_payload,
)
from capillaries_provider.triggers.progress import node_progress


class _CapillariesSensor(BaseSensorOperator):
    template_fields: Sequence[str] = ("keyspace", "run_id")

    def __init__(
        self,
        *,
        keyspace: str,
        run_id: int | str,
        cassandra_conn_id: str = DEFAULT_CASSANDRA_CONN_ID,
        deferrable: bool = True,
        poke_interval: float = 5.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.keyspace = keyspace
        self.run_id = run_id
        self.cassandra_conn_id = cassandra_conn_id
        self.deferrable = deferrable

    def _trigger_kwargs(self) -> dict[str, Any]:
        return {
            "keyspace": self.keyspace,
            "run_id": int(self.run_id),
            "cassandra_conn_id": self.cassandra_conn_id,
            "poll_interval": self.poke_interval,
        }

    def _timeout(self) -> timedelta | None:
        return timedelta(seconds=self.timeout) if self.timeout else None

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        if not self.poke(context):
            self.defer(trigger=self._trigger(), method_name="execute_complete", timeout=self._timeout())
        return None

    def _trigger(self) -> CapillariesNodeTrigger | CapillariesRunTrigger:
        raise NotImplementedError

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        if event.get("status") != "success":
            raise AirflowException(event.get("message", "Capillaries wait did not succeed"))
        self.log.info("%s", event.get("message"))
        return event


class CapillariesNodeSensor(_CapillariesSensor):
    """Wait until every batch of `node` in run `run_id` of `keyspace` finished; fail if a batch failed."""

    template_fields: Sequence[str] = ("keyspace", "run_id", "node")

    def __init__(self, *, node: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.node = node

    def _trigger(self) -> CapillariesNodeTrigger:
        return CapillariesNodeTrigger(node=self.node, **self._trigger_kwargs())

    def poke(self, context: Context) -> bool:
        with CapillariesHook(cassandra_conn_id=self.cassandra_conn_id).session() as session:
            store = WorkflowStore(session, self.keyspace)
            progress = node_progress(store.read_batch_history(int(self.run_id), self.node), 0)
            run_status = store.run_status(int(self.run_id))
        self.log.info("%s/%s/%s: %s", self.keyspace, self.run_id, self.node, progress.describe())
        outcome = progress.outcome
        if outcome is NodeBatchStatus.SUCCESS:
            return True
        if outcome is NodeBatchStatus.FAIL:
            raise AirflowException(
                f"node {self.node} of run {self.keyspace}/{self.run_id} failed: {progress.first_error}"
            )
        if outcome is NodeBatchStatus.STOPRECEIVED or run_status is RunStatus.STOP:
            raise AirflowException(f"node {self.node} of run {self.keyspace}/{self.run_id}: the run was stopped")
        return False


class CapillariesRunSensor(_CapillariesSensor):
    """Wait until run `run_id` of `keyspace` is complete; fail if it was stopped or a node failed."""

    def _trigger(self) -> CapillariesRunTrigger:
        return CapillariesRunTrigger(**self._trigger_kwargs())

    def poke(self, context: Context) -> bool:
        with CapillariesHook(cassandra_conn_id=self.cassandra_conn_id).session() as session:
            progress = read_run_progress(WorkflowStore(session, self.keyspace), int(self.run_id))
        self.log.info("%s/%s: %s", self.keyspace, self.run_id, progress.describe())
        if progress.status not in (RunStatus.COMPLETE, RunStatus.STOP):
            return False
        payload = run_payload(self.keyspace, int(self.run_id), progress)
        if payload["status"] != "success":
            raise AirflowException(payload["message"])
        return True
