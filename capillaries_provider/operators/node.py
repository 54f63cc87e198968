"""One Airflow task per script node: enqueue the node's batches, then wait for them in the triggerer.

Running the task again for the same DAG run (retry, or "clear" in the UI) re-runs the node in the same Capillaries
run: its tables are emptied and its history forgotten before its batches are enqueued again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator, Context, TriggerRule
from airflow.sdk.exceptions import AirflowException, AirflowSkipException

from capillaries_provider.engine import run as engine_run
from capillaries_provider.hooks.capillaries import DEFAULT_AMQP_CONN_ID, DEFAULT_CASSANDRA_CONN_ID, CapillariesHook
from capillaries_provider.hooks.node_reset import node_has_history, node_tables, reopen_run, reset_node
from capillaries_provider.hooks.run_control import RunInfo, stop_run
from capillaries_provider.operators.run import pull_run_info
from capillaries_provider.operators.script_cache import load_script_cached
from capillaries_provider.script.batches import node_batches
from capillaries_provider.status import RunStatus
from capillaries_provider.store.workflow import WorkflowStore
from capillaries_provider.triggers.capillaries import NODE_POLL_INTERVAL_S, CapillariesNodeTrigger


class CapillariesNodeOperator(BaseOperator):
    """Run one script node of the run started by `start_run_task_id`; skipped when the run does not affect it.

    The task succeeds when every batch succeeded and fails with the failing batch's error text. Killing the task
    (or marking it failed while it waits) stops the Capillaries run. `aws_conn_id` / `sftp_conn_id` are the
    connections the script is read with (the same as start_run's); workers use their own environment.
    """

    template_fields: Sequence[str] = ("node",)
    ui_color = "#e8f7e4"

    def __init__(
        self,
        *,
        node: str,
        start_run_task_id: str,
        cassandra_conn_id: str = DEFAULT_CASSANDRA_CONN_ID,
        amqp_conn_id: str = DEFAULT_AMQP_CONN_ID,
        poll_interval: float = NODE_POLL_INTERVAL_S,
        node_timeout: timedelta | None = None,
        aws_conn_id: str | None = None,
        sftp_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        # Upstream nodes the run does not affect are skipped; this node still runs (reading earlier runs' tables).
        kwargs.setdefault("trigger_rule", TriggerRule.NONE_FAILED)
        super().__init__(**kwargs)
        self.node = node
        self.start_run_task_id = start_run_task_id
        self.cassandra_conn_id = cassandra_conn_id
        self.amqp_conn_id = amqp_conn_id
        self.poll_interval = poll_interval
        self.node_timeout = node_timeout
        self.aws_conn_id = aws_conn_id
        self.sftp_conn_id = sftp_conn_id
        self._run: RunInfo | None = None

    def execute(self, context: Context) -> None:
        run = pull_run_info(context, self.start_run_task_id)
        if self.node not in run.affected_nodes:
            raise AirflowSkipException(
                f"node {self.node} is not affected by run {run.keyspace}/{run.run_id}"
                f" (start nodes: {', '.join(run.start_nodes)})"
            )
        self._run = run
        script = load_script_cached(
            run.script_path, run.params_path, aws_conn_id=self.aws_conn_id, sftp_conn_id=self.sftp_conn_id
        )
        if self.node not in script.nodes:
            raise AirflowException(f"node {self.node} is not in script {run.script_path}")
        node = script.nodes[self.node]
        hook = CapillariesHook(self.cassandra_conn_id, self.amqp_conn_id)
        with hook.backend() as backend:
            store = backend.store(run.keyspace)
            if node_has_history(store, run.run_id, self.node):
                self.log.info("re-running node %s in run %s: emptying its tables", self.node, run.run_id)
                reset_node(backend.session, run.keyspace, run.run_id, self.node, node_tables(node))
            elif store.run_status(run.run_id) in (RunStatus.STOP, RunStatus.COMPLETE):
                reopen_run(backend.session, run.keyspace, run.run_id)
            published = engine_run.enqueue_node(
                backend,
                script,
                self.node,
                ks=run.keyspace,
                run_id=run.run_id,
                script_url=run.script_path,
                script_params_url=run.params_path,
            )
        if published is None:
            raise AirflowException(f"another process is enqueueing node {self.node} right now; retry the task")
        total = len(node_batches(node))
        where = f"{run.keyspace}/{run.run_id}/{self.node}"
        if published:
            self.log.info("enqueued %d batches of %s", total, where)
        else:
            self.log.info("the %d batches of %s were enqueued by an earlier attempt; waiting for them", total, where)
        self.defer(
            trigger=CapillariesNodeTrigger(
                keyspace=run.keyspace,
                run_id=run.run_id,
                node=self.node,
                batches_total=total,
                cassandra_conn_id=self.cassandra_conn_id,
                poll_interval=self.poll_interval,
                stop_run_on_kill=True,
                end_from_trigger=True,
            ),
            method_name="execute_complete",
            timeout=self.node_timeout,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | str) -> dict[str, Any] | None:
        """Resumed from the trigger: fail with the node's outcome (a success ends the task in the triggerer).

        `dag.test()` runs triggers in line and resumes even a task-ending event, with the task state as the event.
        """
        if event == "success":
            return None
        if not isinstance(event, dict):
            raise AirflowException(f"node {self.node} ended {event}")
        if event.get("status") != "success":
            raise AirflowException(event.get("message", f"node {self.node} did not succeed"))
        self.log.info("%s", event.get("message"))
        return event

    def on_kill(self) -> None:
        """The task was killed while enqueueing: stop the run so workers skip its batches."""
        if self._run is None:
            return
        hook = CapillariesHook(self.cassandra_conn_id, self.amqp_conn_id)
        with hook.session() as session:
            store = WorkflowStore(session, self._run.keyspace)
            stop_run(store, self._run.run_id, f"stopped from Airflow: task {self.task_id} was killed")
