"""Turn a Capillaries script into Airflow tasks: `CapillariesDag`, `CapillariesTaskGroup`, `build_airflow_graph`.

One task per script node (named after the node, dependencies mirroring the script graph) between a `start_run`
task, which allocates the Capillaries run, and a `finish_run` task, which records how it ended. Parsing reads
the script and params files, and nothing else: no database. They may be local paths or URLs (`s3://`, `http(s)://`,
`sftp://`); with `aws_conn_id` / `sftp_conn_id` remote files are read with those Airflow connections' credentials
(`hooks.storage_connections`), otherwise with the environment's. The loaded script is cached by file identity, and
remote loads for a minute (`operators.script_cache`), so the dag-processor's re-parses cost almost nothing.

Workers are not configured by Airflow: `capillaries worker` processes read remote files with the credentials of
their own environment (`AWS_*`, `CAPILLARIES_S3_ENDPOINT_URL`, `CAPILLARIES_SFTP_PRIVATE_KEYS`,
`CAPILLARIES_CA_PATH`) and must be able to read the same URLs.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import DAG, Asset, BaseOperator, Param, TaskGroup

from capillaries_provider.hooks.capillaries import DEFAULT_AMQP_CONN_ID, DEFAULT_CASSANDRA_CONN_ID
from capillaries_provider.hooks.storage_connections import StorageConnectionError, storage_path_url
from capillaries_provider.operators.node import CapillariesNodeOperator
from capillaries_provider.operators.run import CapillariesFinishRunOperator, CapillariesStartRunOperator
from capillaries_provider.operators.script_cache import load_script_cached
from capillaries_provider.script.graph import parents, topological_order
from capillaries_provider.script.model import Node, NodeType, Script
from capillaries_provider.script.names import validate_keyspace_name
from capillaries_provider.storage.urls import redact, url_scheme

log = logging.getLogger(__name__)

START_RUN_TASK_ID = "start_run"
FINISH_RUN_TASK_ID = "finish_run"

_TASK_ID_BAD_CHARS = re.compile(r"[^A-Za-z0-9_.-]")
_KEYSPACE_PATTERN = r"^[A-Za-z0-9_]{1,48}$"


def local_params_file(name: str, values: Mapping[str, object], directory: str | None = None) -> str:
    """Write a script params file for local use and return its path; unchanged content is not rewritten.

    For example DAGs whose data lives next to the DAG file: params must hold absolute paths, which depend on where
    the DAG folder is, so the DAG file computes them. Only a local file is written (no network, no database);
    workers on other machines need a params file on shared storage instead.
    """
    folder = directory or os.path.join(tempfile.gettempdir(), "capillaries-params")
    path = os.path.join(folder, f"{name}.json")
    text = json.dumps(dict(values), indent=2, sort_keys=True) + "\n"
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return path
    except OSError:
        pass
    os.makedirs(folder, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return path


def node_task_id(node_name: str) -> str:
    """The Airflow task id of a node: the node name, with characters Airflow refuses replaced by `_`."""
    return _TASK_ID_BAD_CHARS.sub("_", node_name)


def default_start_nodes(script: Script) -> list[str]:
    """The nodes that read files: starting a run there runs the whole script (except manual nodes)."""
    return [n.name for n in script.nodes.values() if n.type is NodeType.FILE_TABLE]


def _node_doc(node: Node) -> str:
    lines = [node.desc or node.name, "", f"- type: `{node.type.value}`"]
    if node.custom_proc_type:
        lines.append(f"- custom processor: `{node.custom_proc_type}`")
    if node.start_policy.value != "auto":
        lines.append(f"- start policy: `{node.start_policy.value}` (runs only when named as a start node)")
    if node.target_table:
        lines.append(f"- writes table `{node.target_table}`")
    if node.file_creator:
        lines.append(f"- writes file `{node.file_creator.url_template}`")
    return "\n".join(lines)


def node_assets(node: Node, keyspace: str) -> list[Asset]:
    """Assets a node's success updates: its table (`capillaries://<keyspace>/<table>`) or its output file.

    Files whose name depends on the batch or run (`{batch_idx}`, `{run_id}`) have no fixed URI and get no asset.
    """
    if node.table_creator is not None:
        return [
            Asset(
                name=f"capillaries/{keyspace}/{node.table_creator.name}",
                uri=f"capillaries://{keyspace}/{node.table_creator.name}",
            )
        ]
    if node.file_creator is not None and "{" not in node.file_creator.url_template:
        url = node.file_creator.url_template
        return [Asset(uri=url if url_scheme(url) else f"file://{os.path.abspath(url)}")]
    return []


def capillaries_params(
    script: Script, *, keyspace: str, params_path: str | None, start_nodes: Sequence[str] | None
) -> dict[str, Param]:
    """The DAG params (trigger form) of a script DAG; a run's conf overrides them."""
    names = list(script.nodes)
    starts = list(start_nodes) if start_nodes is not None else default_start_nodes(script)
    return {
        "keyspace": Param(
            keyspace,
            type="string",
            pattern=_KEYSPACE_PATTERN,
            description="Cassandra keyspace of the run; later runs in the same keyspace read earlier runs' tables.",
        ),
        "start_nodes": Param(
            starts,
            type="array",
            items={"type": "string", "enum": names},
            description="Nodes the run starts at; their downstream auto nodes run too, other nodes are skipped.",
        ),
        "params_path": Param(
            params_path or "",
            type="string",
            description="Script parameters file used by the run's workers (empty: no parameters).",
        ),
        "description": Param("", type="string", description="Run description stored with the Capillaries run."),
    }


def resolve_storage_paths(
    script_path: Any, params_path: Any, aws_conn_id: str | None, sftp_conn_id: str | None
) -> tuple[str, str | None, str | None, str | None]:
    """(script url, params url, aws_conn_id, sftp_conn_id) from strings or `ObjectStoragePath`s.

    An `ObjectStoragePath` brings its connection id (`s3://conn_id@bucket/key`); it must agree with an explicit one.
    """
    conns: dict[str, str | None] = {"aws_conn_id": aws_conn_id, "sftp_conn_id": sftp_conn_id}
    urls: list[str | None] = []
    for value in (script_path, params_path):
        if value is None or value == "":
            urls.append(None)
            continue
        url, aws, sftp = storage_path_url(value)
        urls.append(url)
        for name, found in (("aws_conn_id", aws), ("sftp_conn_id", sftp)):
            if found and conns[name] and conns[name] != found:
                raise StorageConnectionError(f"{redact(url)} names connection {found!r} but {name} is {conns[name]!r}")
            conns[name] = conns[name] or found
    script_url = urls[0]
    if script_url is None:
        raise ValueError("script_path is required")
    return script_url, urls[1], conns["aws_conn_id"], conns["sftp_conn_id"]


def build_airflow_graph(
    script: Script,
    *,
    script_path: str,
    keyspace: str,
    params_path: str,
    start_nodes: Any,
    description: str = "",
    cassandra_conn_id: str = DEFAULT_CASSANDRA_CONN_ID,
    amqp_conn_id: str = DEFAULT_AMQP_CONN_ID,
    node_operator_kwargs: Mapping[str, Any] | None = None,
    assets_keyspace: str | None = None,
    aws_conn_id: str | None = None,
    sftp_conn_id: str | None = None,
) -> dict[str, BaseOperator]:
    """Create start_run, one node task per script node and finish_run in the current DAG / TaskGroup context.

    `keyspace`, `params_path`, `start_nodes` and `description` may be Jinja templates (e.g. `{{ params.keyspace }}`)
    rendered when start_run runs. With `assets_keyspace`, node tasks update an Asset per output table or file (see
    `node_assets`). `aws_conn_id` / `sftp_conn_id` go to start_run and the node tasks, which read the script (and
    params) with those connections. Returns the tasks by name: node names plus `start_run` and `finish_run`.
    """
    clashes = {START_RUN_TASK_ID, FINISH_RUN_TASK_ID} & {node_task_id(n) for n in script.nodes}
    if clashes:
        raise ValueError(f"script node names {sorted(clashes)} clash with the run tasks; rename the nodes")
    ids = [node_task_id(n) for n in script.nodes]
    if len(set(ids)) != len(ids):
        raise ValueError("two script node names map to the same Airflow task id; rename the nodes")
    start = CapillariesStartRunOperator(
        task_id=START_RUN_TASK_ID,
        script_path=script_path,
        keyspace=keyspace,
        params_path=params_path,
        start_nodes=start_nodes,
        description=description,
        cassandra_conn_id=cassandra_conn_id,
        amqp_conn_id=amqp_conn_id,
        aws_conn_id=aws_conn_id,
        sftp_conn_id=sftp_conn_id,
        doc_md="Starts the Capillaries run: allocates the run id, computes the affected nodes, creates their tables.",
    )
    tasks: dict[str, BaseOperator] = {START_RUN_TASK_ID: start}
    for name in topological_order(script):
        node = script.nodes[name]
        op = CapillariesNodeOperator(
            task_id=node_task_id(name),
            node=name,
            start_run_task_id=start.task_id,
            cassandra_conn_id=cassandra_conn_id,
            amqp_conn_id=amqp_conn_id,
            aws_conn_id=aws_conn_id,
            sftp_conn_id=sftp_conn_id,
            doc_md=_node_doc(node),
            outlets=node_assets(node, assets_keyspace) if assets_keyspace else [],
            **dict(node_operator_kwargs or {}),
        )
        ups = parents(script, name)
        if ups:
            for parent in ups:
                tasks[parent] >> op
        else:
            start >> op
        tasks[name] = op
    finish = CapillariesFinishRunOperator(
        task_id=FINISH_RUN_TASK_ID,
        start_run_task_id=start.task_id,
        cassandra_conn_id=cassandra_conn_id,
        doc_md="Records the end of the Capillaries run; fails if an affected node did not succeed.",
    )
    has_children = {p for name in script.nodes for p in parents(script, name)}
    for name in script.nodes:
        if name not in has_children:
            tasks[name] >> finish
    if not script.nodes:
        start >> finish
    tasks[FINISH_RUN_TASK_ID] = finish
    return tasks


class CapillariesDag(DAG):
    """A DAG that runs one Capillaries script; each DAG run is one Capillaries run in the keyspace.

    The trigger form offers `keyspace`, `start_nodes`, `params_path` and `description` (run conf overrides them).
    With `emit_assets`, node tasks update an Asset per output table/file, named with the default `keyspace`.

    `script_path` and `params_path` are local paths, URLs (`s3://`, `http(s)://`, `sftp://`) or Airflow
    `ObjectStoragePath`s (`ObjectStoragePath("s3://aws_conn@bucket/script.json")` sets `aws_conn_id`). With
    `aws_conn_id` (an `aws` connection) and `sftp_conn_id` (an `sftp` connection), the DAG file parse and the
    start_run and node tasks read them with those connections' credentials; without, with the environment's.
    Workers always use their own environment (see `hooks.storage_connections`).
    Other keyword arguments go to `DAG` unchanged.
    """

    def __init__(
        self,
        *,
        script_path: Any,
        keyspace: str,
        params_path: Any = None,
        start_nodes: Sequence[str] | None = None,
        cassandra_conn_id: str = DEFAULT_CASSANDRA_CONN_ID,
        amqp_conn_id: str = DEFAULT_AMQP_CONN_ID,
        node_operator_kwargs: Mapping[str, Any] | None = None,
        emit_assets: bool = True,
        aws_conn_id: str | None = None,
        sftp_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        started = time.monotonic()
        validate_keyspace_name(keyspace)
        script_path, params_path, aws_conn_id, sftp_conn_id = resolve_storage_paths(
            script_path, params_path, aws_conn_id, sftp_conn_id
        )
        script = load_script_cached(script_path, params_path, aws_conn_id=aws_conn_id, sftp_conn_id=sftp_conn_id)
        params = capillaries_params(script, keyspace=keyspace, params_path=params_path, start_nodes=start_nodes)
        params.update(kwargs.pop("params", None) or {})
        kwargs.setdefault("max_active_tasks", max(16, len(script.nodes)))
        kwargs.setdefault("doc_md", f"Capillaries script `{redact(script_path)}` ({len(script.nodes)} nodes).")
        super().__init__(params=params, **kwargs)
        self.script = script
        with self:
            self.capillaries_tasks = build_airflow_graph(
                script,
                script_path=script_path,
                keyspace="{{ params.keyspace }}",
                params_path="{{ params.params_path }}",
                start_nodes="{{ params.start_nodes | tojson }}",
                description="{{ params.description }}",
                cassandra_conn_id=cassandra_conn_id,
                amqp_conn_id=amqp_conn_id,
                node_operator_kwargs=node_operator_kwargs,
                assets_keyspace=keyspace if emit_assets else None,
                aws_conn_id=aws_conn_id,
                sftp_conn_id=sftp_conn_id,
            )
        log.info(
            "built Capillaries DAG %s from %s in %.3f s", self.dag_id, redact(script_path), time.monotonic() - started
        )


class CapillariesTaskGroup(TaskGroup):
    """A Capillaries script embedded in a bigger DAG: start_run, node tasks and finish_run inside one group.

    `keyspace`, `start_nodes` and `description` are fixed values or Jinja templates; `params_path` is a plain path
    (the script is loaded with it at parse time); `start_nodes` defaults to the script's file-reading nodes.
    `script_path`, `params_path`, `aws_conn_id` and `sftp_conn_id` work as in `CapillariesDag`.
    """

    def __init__(
        self,
        *,
        script_path: Any,
        keyspace: str,
        params_path: Any = None,
        start_nodes: Sequence[str] | str | None = None,
        description: str = "",
        cassandra_conn_id: str = DEFAULT_CASSANDRA_CONN_ID,
        amqp_conn_id: str = DEFAULT_AMQP_CONN_ID,
        node_operator_kwargs: Mapping[str, Any] | None = None,
        emit_assets: bool = True,
        aws_conn_id: str | None = None,
        sftp_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        if "{{" not in keyspace:
            validate_keyspace_name(keyspace)
        script_path, params_path, aws_conn_id, sftp_conn_id = resolve_storage_paths(
            script_path, params_path, aws_conn_id, sftp_conn_id
        )
        script = load_script_cached(script_path, params_path, aws_conn_id=aws_conn_id, sftp_conn_id=sftp_conn_id)
        super().__init__(**kwargs)
        self.script = script
        if start_nodes is None:
            starts: list[str] | str = default_start_nodes(script)
        else:
            starts = start_nodes if isinstance(start_nodes, str) else list(start_nodes)
        with self:
            self.capillaries_tasks = build_airflow_graph(
                script,
                script_path=script_path,
                keyspace=keyspace,
                params_path=params_path or "",
                start_nodes=starts,
                description=description,
                cassandra_conn_id=cassandra_conn_id,
                amqp_conn_id=amqp_conn_id,
                node_operator_kwargs=node_operator_kwargs,
                assets_keyspace=keyspace if emit_assets and "{{" not in keyspace else None,
                aws_conn_id=aws_conn_id,
                sftp_conn_id=sftp_conn_id,
            )
