"""The run tasks around a script's node tasks: start_run allocates the Capillaries run, finish_run closes it."""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context, TriggerRule
from airflow.sdk.exceptions import AirflowException

from capillaries_provider.hooks.capillaries import DEFAULT_AMQP_CONN_ID, DEFAULT_CASSANDRA_CONN_ID, CapillariesHook
from capillaries_provider.hooks.run_control import RunInfo, airflow_marker, start_airflow_run, stop_run
from capillaries_provider.operators.script_cache import load_script_cached
from capillaries_provider.status import RunStatus
from capillaries_provider.store.workflow import WorkflowStore, decide_run_completion
from capillaries_provider.triggers.capillaries import read_run_progress


def parse_node_list(value: Sequence[str] | str | None) -> list[str]:
    """Start nodes from a list, a JSON/Python list literal (a rendered template) or comma-separated text."""
    if value is None:
        return []
    if not isinstance(value, str):
        return [str(v) for v in value]
    text = value.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            try:  # a Python list repr: literal parsing only, never code execution
                parsed = ast.literal_eval(text)
            except (ValueError, SyntaxError) as exc:
                raise ValueError(f"start nodes {text!r} are not a list of node names") from exc
        return [str(v) for v in parsed]
    return [n.strip() for n in text.split(",") if n.strip()]


def pull_run_info(context: Context, start_run_task_id: str) -> RunInfo:
    """The run that this DAG run's start_run task started (its XCom return value)."""
    data = context["ti"].xcom_pull(task_ids=start_run_task_id)
    if not data:
        raise AirflowException(f"task {start_run_task_id} has no run information; did it run in this DAG run?")
    return RunInfo.from_xcom(data)


class CapillariesStartRunOperator(BaseOperator):
    """Start the Capillaries run of this DAG run: run id, affected nodes, tables, run status `start`.

    Idempotent per DAG run: a retry or clear finds the run started before instead of starting another one.
    Returns (as XCom) the `RunInfo` dict that node tasks read. With `aws_conn_id` / `sftp_conn_id`, a script or
    params file given by URL is read with those connections' credentials (`hooks.storage_connections`); the
    workers read the same URLs with the credentials of their own environment.
    """

    template_fields: Sequence[str] = ("keyspace", "params_path", "start_nodes", "description")
    ui_color = "#d7ecff"

    def __init__(
        self,
        *,
        script_path: str,
        keyspace: str,
        start_nodes: Sequence[str] | str,
        params_path: str = "",
        description: str = "",
        cassandra_conn_id: str = DEFAULT_CASSANDRA_CONN_ID,
        amqp_conn_id: str = DEFAULT_AMQP_CONN_ID,
        aws_conn_id: str | None = None,
        sftp_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.script_path = script_path
        self.aws_conn_id = aws_conn_id
        self.sftp_conn_id = sftp_conn_id
        self.keyspace = keyspace
        self.start_nodes = start_nodes
        self.params_path = params_path
        self.description = description
        self.cassandra_conn_id = cassandra_conn_id
        self.amqp_conn_id = amqp_conn_id

    def execute(self, context: Context) -> dict[str, object]:
        starts = parse_node_list(self.start_nodes)
        params_path = self.params_path or ""
        script = load_script_cached(
            self.script_path, params_path, aws_conn_id=self.aws_conn_id, sftp_conn_id=self.sftp_conn_id
        )
        hook = CapillariesHook(self.cassandra_conn_id, self.amqp_conn_id)
        marker = airflow_marker(self.dag_id, context["run_id"], self.task_id)
        with hook.backend(publish=False) as backend:
            run = start_airflow_run(
                backend,
                backend.store(self.keyspace),
                script=script,
                script_path=self.script_path,
                params_path=params_path,
                start_nodes=starts,
                description=self.description or "",
                marker=marker,
            )
        self.log.info(
            "Capillaries run %s/%s: start nodes %s, affected nodes %s",
            run.keyspace,
            run.run_id,
            ", ".join(run.start_nodes),
            ", ".join(run.affected_nodes),
        )
        return run.to_xcom()


class CapillariesFinishRunOperator(BaseOperator):
    """Close the run once every node task is done: `complete` if every affected node succeeded.

    Otherwise the run is stopped (so later runs do not read its partial tables, spec 5.5) and this task fails,
    which makes the DAG run fail. Clearing the failed nodes re-opens the run.
    """

    ui_color = "#d7ecff"

    def __init__(
        self, *, start_run_task_id: str, cassandra_conn_id: str = DEFAULT_CASSANDRA_CONN_ID, **kwargs: Any
    ) -> None:
        kwargs.setdefault("trigger_rule", TriggerRule.ALL_DONE)
        super().__init__(**kwargs)
        self.start_run_task_id = start_run_task_id
        self.cassandra_conn_id = cassandra_conn_id

    def execute(self, context: Context) -> dict[str, object]:
        run = pull_run_info(context, self.start_run_task_id)
        hook = CapillariesHook(cassandra_conn_id=self.cassandra_conn_id)
        with hook.session() as session:
            store = WorkflowStore(session, run.keyspace)
            progress = read_run_progress(store, run.run_id)
            bad = progress.not_succeeded
            if not bad:
                comment = decide_run_completion(run.affected_nodes, progress.nodes)
                if progress.status is not RunStatus.COMPLETE and comment is not None:
                    store.set_run_status(run.run_id, RunStatus.COMPLETE, comment)
                self.log.info("Capillaries run %s/%s complete: %s", run.keyspace, run.run_id, comment)
                return {"run_id": run.run_id, "nodes": {n: s.label for n, s in progress.nodes.items()}}
            detail = ", ".join(f"{n}={s.label}" for n, s in bad.items())
            stop_run(store, run.run_id, f"stopped by Airflow: nodes not succeeded: {detail}")
        raise AirflowException(f"Capillaries run {run.keyspace}/{run.run_id} did not succeed: {detail}")
