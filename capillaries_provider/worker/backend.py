"""The engine's ports implemented over Cassandra (store) and RabbitMQ (queue).

One `CassandraBackend` per process: one Cassandra session (keyspaces are always named in the CQL, so one
session serves every keyspace) and one publisher connection, opened on first publish. Besides
Capillaries' own `wf_*` tables (left exactly as Capillaries defines them) two small tables of ours live in each
keyspace: `wf_run_driver` (who enqueues a run's batches) and `wf_node_enqueued` (the exactly-once enqueue claims).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from cassandra.cluster import Session
from pika.exceptions import AMQPError

from capillaries_provider.config import AmqpSettings, CassandraSettings
from capillaries_provider.engine.ports import (
    BatchEvent,
    BatchTask,
    DependencyLookupError,
    Driver,
    NodeRunEntry,
    Row,
)
from capillaries_provider.expr.types import FieldType
from capillaries_provider.queue.publisher import Publisher, PublishError
from capillaries_provider.retry import amqp_transient, cassandra_transient
from capillaries_provider.script.model import TableCreator
from capillaries_provider.script.names import validate_keyspace_name
from capillaries_provider.status import NodeBatchStatus, RefreshOutcome, RunStatus
from capillaries_provider.store import reader
from capillaries_provider.store.distinct_writer import DistinctRowWriter
from capillaries_provider.store.session import close, connect, ensure_keyspace, prepare_cached
from capillaries_provider.store.tables import IndexSpec, TableSpec, create_run_tables, run_table_name
from capillaries_provider.store.workflow import (
    BatchRef,
    RunHistoryEvent,
    RunProperties,
    RunPropertiesCache,
    WorkflowStore,
    dominant_run_status,
    node_statuses,
)
from capillaries_provider.store.writer import RowWriter

OWN_DDL: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS {ks}.wf_run_driver (run_id int, driver text, PRIMARY KEY(run_id))",
    "CREATE TABLE IF NOT EXISTS {ks}.wf_node_enqueued (run_id int, script_node text, claimed_by text,"
    " claimed_at timestamp, published boolean, PRIMARY KEY((run_id), script_node))",
)

# An enqueue claim not confirmed within this time belongs to a process that died between claim and publish.
CLAIM_STALE = dt.timedelta(seconds=30)

_STARTED = dt.datetime.now(dt.UTC).strftime("%m-%dT%H:%M:%S.%f")[:-3]

# Table creators compare by identity, so an entry lives as long as its script (the worker's script cache).
_TABLE_SPECS: weakref.WeakKeyDictionary[TableCreator, TableSpec] = weakref.WeakKeyDictionary()

log = logging.getLogger(__name__)


def forget_enqueue_claim(session: Session, ks: str, run_id: int, node: str) -> None:
    """Drop a node's enqueue claim, so that its batches are sent again when the node is re-run in the same run."""
    validate_keyspace_name(ks)
    session.execute(f"DELETE FROM {ks}.wf_node_enqueued WHERE run_id = %s AND script_node = %s", (run_id, node))


def instance_id() -> str:
    """`<hostname>/capi_worker/<process start MM-DDTHH:MM:SS.mmm>`, Capillaries' instance naming (spec 3.2)."""
    return f"{socket.gethostname()}/capi_worker/{_STARTED}"


def _utc(ts: dt.datetime | None) -> dt.datetime:
    if ts is None:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return ts.replace(tzinfo=dt.UTC) if ts.tzinfo is None else ts


def table_spec(creator: TableCreator) -> TableSpec:
    """The store's table spec of a script table creator, built (and its names validated) once per creator rather
    than for every batch of the node."""
    spec = _TABLE_SPECS.get(creator)
    if spec is None:
        spec = _TABLE_SPECS[creator] = TableSpec(
            name=creator.name,
            fields=creator.field_types,
            indexes=tuple(IndexSpec(i.name, i.unique, i.components) for i in creator.indexes.values()),
            table_options=creator.table_options,
        )
    return spec


def _broker_unreachable(exc: BaseException) -> bool:
    """A broker/network failure worth retrying; plain OSErrors (missing file, permission denied) are permanent."""
    return isinstance(exc, AMQPError | ConnectionError | TimeoutError) and amqp_transient(exc)


class CassandraBackend:
    """WorkflowPort + RunControlPort + DataStore over one Cassandra session and a lazily opened publisher.

    Per-process caches: the workflow store of each keyspace and its run properties (immutable once written).
    """

    def __init__(
        self,
        cassandra: CassandraSettings,
        amqp: AmqpSettings,
        *,
        session: Session | None = None,
    ) -> None:
        self.cassandra = cassandra
        self.amqp = amqp
        self.session = session if session is not None else connect(cassandra)
        self._stores: dict[str, WorkflowStore] = {}
        self._run_properties: dict[str, RunPropertiesCache] = {}
        self._publisher: Publisher | None = None
        # A blocking AMQP connection is not thread-safe; the worker publishes from its one handler thread, the lock
        # keeps any other caller sharing the backend from interleaving on the connection.
        self._publish_lock = threading.Lock()
        self.instance = instance_id()

    def close(self) -> None:
        try:
            with self._publish_lock:
                if self._publisher is not None:
                    self._publisher.close()
                    self._publisher = None
        except Exception as exc:  # a broken connection has nothing left to close on the broker
            log.debug("closing the publisher: %s", exc)
        finally:
            close(self.session)

    def store(self, ks: str) -> WorkflowStore:
        wf = self._stores.get(ks)
        if wf is None:
            wf = self._stores[ks] = WorkflowStore(self.session, ks)
        return wf

    def _execute(self, ks: str, cql: str, params: Sequence[object]) -> list[dict[str, Any]]:
        validate_keyspace_name(ks)
        return list(self.session.execute(prepare_cached(self.session, cql.format(ks=ks)), params))

    # -- WorkflowPort -------------------------------------------------------------------------------------------

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def is_transient(self, exc: BaseException) -> bool:
        """Cassandra or broker unreachable; also looks through `__cause__` (a row write that kept timing out
        surfaces as a RowWriteError)."""
        seen: BaseException | None = exc
        for _ in range(10):
            if seen is None:
                return False
            if cassandra_transient(seen) or isinstance(seen, PublishError) or _broker_unreachable(seen):
                return True
            seen = seen.__cause__
        return False

    def run_status(self, ks: str, run_id: int) -> RunStatus:
        return self.store(ks).run_status(run_id)

    def batch_events(self, ks: str, run_id: int, node: str, batch_idx: int) -> list[BatchEvent]:
        return [
            BatchEvent(e.ts, e.status, e.comment) for e in self.store(ks).read_batch_history(run_id, node, batch_idx)
        ]

    def set_batch_status(self, task: BatchTask, status: NodeBatchStatus, comment: str) -> None:
        ref = BatchRef(
            run_id=task.run_id,
            script_node=task.target_node,
            batch_idx=task.batch_idx,
            batches_total=task.batches_total,
            first_token=task.first_token,
            last_token=task.last_token,
        )
        self.store(task.ks).set_batch_status(ref, status, comment, self.instance, os.getpid())

    def set_node_status(
        self, ks: str, run_id: int, node: str, batch_idx: int, status: NodeBatchStatus, comment: str
    ) -> None:
        self.store(ks).set_node_status(run_id, node, batch_idx, status, comment)

    def refresh_node_and_run_status(self, ks: str, run_id: int, node: str, batch_idx: int) -> RefreshOutcome:
        return self.store(ks).refresh_node_and_run_status(run_id, node, batch_idx)

    def dependency_entries(self, ks: str, run_id: int, dep_nodes: Sequence[str]) -> dict[str, list[NodeRunEntry]]:
        """Spec 5.5 steps 1-4, reading only what the decision needs: run properties through the per-process cache,
        run and node history only in the partitions of the dependency runs (every run that had a dependency node
        affected, newer runs included)."""
        wf = self.store(ks)
        props = self._run_properties_cache(ks).all()
        runs_of = {d: [p.run_id for p in props if d in p.affected_nodes] for d in dep_nodes}
        never = [d for d, runs in runs_of.items() if not runs]
        if never:
            raise DependencyLookupError(
                f"dependency node(s) {', '.join(never)} were not affected by any run in keyspace {ks};"
                " start a run with them first"
            )
        by_run: dict[int, list[RunHistoryEvent]] = {}
        for e in wf.read_run_history_of(sorted({r for runs in runs_of.values() for r in runs})):
            by_run.setdefault(e.run_id, []).append(e)
        out: dict[str, list[NodeRunEntry]] = {}
        for d, runs in runs_of.items():
            node_status = node_statuses(wf.read_node_history_of(runs, d))
            out[d] = [
                NodeRunEntry(
                    run_id=r,
                    run_is_current=r == run_id,
                    run_status=dominant_run_status(by_run.get(r, [])),
                    node_status=node_status.get((r, d), NodeBatchStatus.NONE),
                )
                for r in runs
            ]
        return out

    def _run_properties_cache(self, ks: str) -> RunPropertiesCache:
        cache = self._run_properties.get(ks)
        if cache is None:
            wf = self.store(ks)
            cache = self._run_properties[ks] = RunPropertiesCache(wf.last_run_id, wf.read_run_properties_of)
        return cache

    def run_driver(self, ks: str, run_id: int) -> Driver:
        """A run without a driver row was started by someone else (e.g. Go's toolbelt, which enqueues everything)."""
        rows = self._execute(ks, "SELECT driver FROM {ks}.wf_run_driver WHERE run_id = ?", (run_id,))
        if not rows:
            return Driver.AIRFLOW
        return Driver(rows[0]["driver"])

    def node_statuses(self, ks: str, run_id: int) -> dict[str, NodeBatchStatus]:
        statuses = node_statuses(self.store(ks).read_node_history(run_id))
        return {n: s for (r, n), s in statuses.items() if r == run_id}

    def affected_nodes(self, ks: str, run_id: int) -> tuple[str, ...]:
        props = self.store(ks).read_run_properties(run_id)
        return props.affected_nodes if props else ()

    def claim_enqueue(self, ks: str, run_id: int, node: str) -> bool | None:
        cols = (
            "SELECT claimed_by, claimed_at, published FROM {ks}.wf_node_enqueued WHERE run_id = ? AND script_node = ?"
        )
        rows = self._execute(ks, cols, (run_id, node))
        me = f"{self.instance}/{os.getpid()}/{uuid.uuid4()}"
        if not rows:
            result = self._execute(
                ks,
                "INSERT INTO {ks}.wf_node_enqueued (run_id, script_node, claimed_by, claimed_at, published)"
                " VALUES (?, ?, ?, toTimestamp(now()), false) IF NOT EXISTS",
                (run_id, node, me),
            )
            if result[0]["[applied]"]:
                return True
            rows = result
        existing = rows[0]
        if existing["published"]:
            return False
        if self.now() - _utc(existing["claimed_at"]) < CLAIM_STALE:
            return None
        result = self._execute(
            ks,
            "UPDATE {ks}.wf_node_enqueued SET claimed_by = ?, claimed_at = toTimestamp(now())"
            " WHERE run_id = ? AND script_node = ? IF claimed_by = ?",
            (me, run_id, node, existing["claimed_by"]),
        )
        return True if result[0]["[applied]"] else None

    def confirm_enqueued(self, ks: str, run_id: int, node: str) -> None:
        self._execute(
            ks,
            "UPDATE {ks}.wf_node_enqueued SET published = true WHERE run_id = ? AND script_node = ?",
            (run_id, node),
        )

    def publish(self, tasks: Sequence[BatchTask]) -> None:
        """Publish with confirms over the process's one publisher, opened on first use; it reopens a connection
        the broker dropped while it sat idle (enqueues come once per node, possibly minutes apart)."""
        with self._publish_lock:
            if self._publisher is None:
                self._publisher = Publisher(self.amqp)  # connects on first publish, with its reconnect back-off
            self._publisher.publish(tasks)

    # -- RunControlPort -----------------------------------------------------------------------------------------

    def ensure_keyspace(self, ks: str) -> None:
        ensure_keyspace(self.session, ks, self.cassandra.replication)
        self.store(ks).create_tables()
        for ddl in OWN_DDL:
            self.session.execute(ddl.format(ks=ks))

    def next_run_id(self, ks: str) -> int:
        return self.store(ks).next_run_id()

    def write_run_properties(
        self,
        ks: str,
        run_id: int,
        start_nodes: Sequence[str],
        affected_nodes: Sequence[str],
        script_url: str,
        script_params_url: str,
        description: str,
    ) -> None:
        self.store(ks).write_run_properties(
            RunProperties(run_id, tuple(start_nodes), tuple(affected_nodes), script_url, script_params_url, description)
        )

    def set_run_driver(self, ks: str, run_id: int, driver: Driver) -> None:
        self._execute(ks, "INSERT INTO {ks}.wf_run_driver (run_id, driver) VALUES (?, ?)", (run_id, driver.value))

    def create_run_tables(self, ks: str, run_id: int, creators: Sequence[TableCreator]) -> None:
        create_run_tables(self.session, ks, run_id, [table_spec(c) for c in creators])

    def set_run_status(self, ks: str, run_id: int, status: RunStatus, comment: str) -> None:
        self.store(ks).set_run_status(run_id, status, comment)

    # -- DataStore ----------------------------------------------------------------------------------------------

    def read_token_range(
        self,
        ks: str,
        table: str,
        run_id: int,
        fields: Mapping[str, FieldType],
        first_token: int,
        last_token: int,
        rowset_size: int,
    ) -> Iterator[list[Row]]:
        return reader.read_token_range(
            self.session, ks, run_table_name(table, run_id), fields, first_token, last_token, rowset_size
        )

    def row_writer(self, ks: str, creator: TableCreator, run_id: int, batch_idx: int) -> RowWriter:
        return RowWriter(
            self.session, ks, table_spec(creator), run_id, batch_idx, concurrency=self.cassandra.writer_concurrency
        )

    def distinct_writer(self, ks: str, creator: TableCreator, run_id: int, batch_idx: int) -> DistinctRowWriter:
        """Writes of a distinct_table batch (engine/distinct.py's DistinctStore)."""
        return DistinctRowWriter(
            self.session, ks, table_spec(creator), run_id, batch_idx, concurrency=self.cassandra.writer_concurrency
        )

    def read_index_rowids(self, ks: str, index: str, run_id: int, keys: Sequence[str]) -> Mapping[str, Sequence[int]]:
        return reader.read_index_rowids(self.session, ks, run_table_name(index, run_id), keys)

    def read_rows_by_rowid(
        self, ks: str, table: str, run_id: int, fields: Mapping[str, FieldType], rowids: Sequence[int]
    ) -> dict[int, Row]:
        return reader.read_rows_by_rowid(self.session, ks, run_table_name(table, run_id), fields, rowids)
