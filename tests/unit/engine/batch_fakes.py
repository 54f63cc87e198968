"""In-memory WorkflowPort/DataStore for pure state-machine tests (no Cassandra, no RabbitMQ); the status decisions
are the store's own pure functions."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from capillaries_provider.engine.ports import (
    BatchEvent,
    BatchTask,
    DependencyLookupError,
    Driver,
    NodeRunEntry,
    Row,
)
from capillaries_provider.expr.types import FieldType, Value
from capillaries_provider.script.loader import load_script_text
from capillaries_provider.script.model import Script, TableCreator
from capillaries_provider.status import NodeBatchStatus, RefreshOutcome, RunStatus
from capillaries_provider.store.workflow import (
    BatchHistoryEvent,
    BatchRef,
    NodeHistoryEvent,
    RunHistoryEvent,
    decide_node_status,
    decide_run_completion,
    dominant_run_status,
    latest_run_status,
    node_complete_comment,
    node_statuses,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
KS = "ks"

_CUR = "nrs.run_is_current == true"
_OTHER = "nrs.run_is_current == false"
_START_OR_NONE = "(nrs.run_status == wfmodel.RunStart || nrs.run_status == wfmodel.RunNone)"

# The standard dependency policy shipped in every Capillaries sample script (spec 1.11), rules in order.
STANDARD_POLICY = {
    "is_default": True,
    "event_priority_order": "run_is_current(desc), run_id(desc)",
    "rules": [
        {"cmd": c, "expression": e}
        for c, e in [
            ("go", f"{_CUR} && nrs.run_status == wfmodel.RunStart && nrs.node_status == wfmodel.NodeBatchSuccess"),
            ("wait", f"{_CUR} && {_START_OR_NONE} && nrs.node_status == wfmodel.NodeBatchNone"),
            ("wait", f"{_CUR} && {_START_OR_NONE} && nrs.node_status == wfmodel.NodeBatchStart"),
            ("nogo", f"{_CUR} && nrs.run_status == wfmodel.RunStart && nrs.node_status == wfmodel.NodeBatchFail"),
            ("go", f"{_OTHER} && nrs.run_status == wfmodel.RunStart && nrs.node_status == wfmodel.NodeBatchSuccess"),
            ("wait", f"{_OTHER} && {_START_OR_NONE} && nrs.node_status == wfmodel.NodeBatchNone"),
            ("wait", f"{_OTHER} && {_START_OR_NONE} && nrs.node_status == wfmodel.NodeBatchStart"),
            ("go", f"{_OTHER} && nrs.run_status == wfmodel.RunComplete && nrs.node_status == wfmodel.NodeBatchSuccess"),
            ("nogo", f"{_OTHER} && nrs.run_status == wfmodel.RunComplete && nrs.node_status == wfmodel.NodeBatchFail"),
            ("nogo", f"{_OTHER} && nrs.run_status == wfmodel.RunStop"),
        ]
    ],
}


def make_script(nodes: dict[str, Any]) -> Script:
    """A validated script from node definitions (as Python data) plus the standard policy."""
    doc = {"nodes": nodes, "dependency_policies": {"std": STANDARD_POLICY}}
    return load_script_text(json.dumps(doc), fmt="json", file="s.json")


def csv_int_reader(urls: list[str]) -> dict[str, Any]:
    """A file reader with one int column `c` at index 0."""
    return {"urls": urls, "columns": {"c": {"col_type": "int", "csv": {"col_idx": 0}}}}


def int_fields(**exprs: str) -> dict[str, Any]:
    """`w.fields` of int fields from name=expression pairs."""
    return {name: {"expression": e, "type": "int"} for name, e in exprs.items()}


class TransientError(Exception):
    """Stands for "Cassandra unreachable"."""


@dataclass
class FakeSink:
    rows: list[dict[str, Value]] = field(default_factory=list)

    def write(self, row: Mapping[str, Value]) -> int:
        self.rows.append(dict(row))
        return len(self.rows)

    def flush(self) -> object:
        return None


class FakeBackend:
    """Keeps the `wf_*` rows in dicts under their Cassandra primary keys (a write with the same key replaces the
    row, the run history is `IF NOT EXISTS`) and decides with the store's own status functions, so the state-machine
    tests check the real rules; `clock` advances one second per status write so ts order is defined."""

    def __init__(self, affected: Mapping[int, Sequence[str]], driver: Driver = Driver.CLI) -> None:
        self.clock = T0
        self.affected = {r: tuple(n) for r, n in affected.items()}
        self.runs: dict[tuple[int, RunStatus], RunHistoryEvent] = {}
        self.batches: dict[tuple[int, str, int, NodeBatchStatus], BatchHistoryEvent] = {}
        self.nodes: dict[tuple[int, str, int, NodeBatchStatus], NodeHistoryEvent] = {}
        self.driver = driver
        self.claims: dict[tuple[int, str], bool] = {}
        self.published: list[BatchTask] = []
        self.tables: dict[str, FakeSink] = {}

    def tick(self) -> dt.datetime:
        self.clock += dt.timedelta(seconds=1)
        return self.clock

    # Reads of the rows, sorted like WorkflowStore's
    def run_history(self, run_id: int) -> list[RunHistoryEvent]:
        return sorted((e for e in self.runs.values() if e.run_id == run_id), key=lambda e: e.ts)

    def batch_history(self, run_id: int, node: str, batch_idx: int | None = None) -> list[BatchHistoryEvent]:
        rows = [e for (r, n, i, _), e in self.batches.items() if (r, n) == (run_id, node) and batch_idx in (None, i)]
        return sorted(rows, key=lambda e: (e.ts, e.batch.batch_idx))

    def node_history(self, run_id: int | None = None) -> list[NodeHistoryEvent]:
        rows = [e for e in self.nodes.values() if run_id in (None, e.run_id)]
        return sorted(rows, key=lambda e: (e.ts, e.run_id, e.written_by_batch_idx))

    # WorkflowPort
    def now(self) -> dt.datetime:
        return self.clock

    def is_transient(self, exc: BaseException) -> bool:
        return isinstance(exc, TransientError)

    def set_run_status(self, ks: str, run_id: int, status: RunStatus, comment: str) -> None:
        self.runs.setdefault((run_id, status), RunHistoryEvent(self.tick(), run_id, status, comment))

    def run_status(self, ks: str, run_id: int) -> RunStatus:
        return latest_run_status(self.run_history(run_id))

    def batch_events(self, ks: str, run_id: int, node: str, batch_idx: int) -> list[BatchEvent]:
        return [BatchEvent(e.ts, e.status, e.comment) for e in self.batch_history(run_id, node, batch_idx)]

    def set_batch_status(self, task: BatchTask, status: NodeBatchStatus, comment: str) -> None:
        ref = BatchRef(
            task.run_id, task.target_node, task.batch_idx, task.batches_total, task.first_token, task.last_token
        )
        key = (task.run_id, task.target_node, task.batch_idx, status)
        self.batches[key] = BatchHistoryEvent(self.tick(), ref, status, "fake", 0, comment)

    def set_node_status(
        self, ks: str, run_id: int, node: str, batch_idx: int, status: NodeBatchStatus, comment: str
    ) -> None:
        key = (run_id, node, batch_idx, status)
        self.nodes[key] = NodeHistoryEvent(self.tick(), run_id, node, batch_idx, status, comment)

    def node_statuses(self, ks: str, run_id: int) -> dict[str, NodeBatchStatus]:
        return {n: s for (r, n), s in node_statuses(self.node_history(run_id)).items() if r == run_id}

    def refresh_node_and_run_status(self, ks: str, run_id: int, node: str, batch_idx: int) -> RefreshOutcome:
        """The steps of `WorkflowStore.refresh_node_and_run_status` over these rows."""
        events = self.batch_history(run_id, node)
        node_status = decide_node_status(events)
        if node_status is None:
            return RefreshOutcome(None, False)
        self.set_node_status(ks, run_id, node, batch_idx, node_status, node_complete_comment(events))
        comment = decide_run_completion(self.affected[run_id], self.node_statuses(ks, run_id))
        if comment is None:
            return RefreshOutcome(node_status, False)
        self.set_run_status(ks, run_id, RunStatus.COMPLETE, comment)
        return RefreshOutcome(node_status, True)

    def dependency_entries(self, ks: str, run_id: int, dep_nodes: Sequence[str]) -> dict[str, list[NodeRunEntry]]:
        out: dict[str, list[NodeRunEntry]] = {}
        for d in dep_nodes:
            runs = [r for r, nodes in self.affected.items() if d in nodes]
            if not runs:
                raise DependencyLookupError(f"{d} was never run")
            statuses = node_statuses(self.node_history())
            out[d] = [
                NodeRunEntry(
                    r, r == run_id, dominant_run_status(self.run_history(r)), statuses.get((r, d), NodeBatchStatus.NONE)
                )
                for r in runs
            ]
        return out

    def run_driver(self, ks: str, run_id: int) -> Driver:
        return self.driver

    def affected_nodes(self, ks: str, run_id: int) -> tuple[str, ...]:
        return self.affected.get(run_id, ())

    def claim_enqueue(self, ks: str, run_id: int, node: str) -> bool | None:
        if (run_id, node) in self.claims:
            return False if self.claims[(run_id, node)] else None
        self.claims[(run_id, node)] = False
        return True

    def confirm_enqueued(self, ks: str, run_id: int, node: str) -> None:
        self.claims[(run_id, node)] = True

    def publish(self, tasks: Sequence[BatchTask]) -> None:
        self.published.extend(tasks)

    # RunControlPort
    def ensure_keyspace(self, ks: str) -> None:
        pass

    def next_run_id(self, ks: str) -> int:
        return max(self.affected, default=0) + 1

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
        self.affected[run_id] = tuple(affected_nodes)

    def set_run_driver(self, ks: str, run_id: int, driver: Driver) -> None:
        self.driver = driver

    def create_run_tables(self, ks: str, run_id: int, creators: Sequence[TableCreator]) -> None:
        for c in creators:
            self.tables.setdefault(f"{c.name}_{run_id:05d}", FakeSink())

    # DataStore
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
        rows = self.tables.get(f"{table}_{run_id:05d}", FakeSink()).rows
        for i in range(0, len(rows), rowset_size):
            yield [{f: r[f] for f in fields if f in r} for r in rows[i : i + rowset_size]]

    def row_writer(self, ks: str, creator: TableCreator, run_id: int, batch_idx: int) -> FakeSink:
        return self.tables.setdefault(f"{creator.name}_{run_id:05d}", FakeSink())

    def read_index_rowids(self, ks: str, index: str, run_id: int, keys: Sequence[str]) -> dict[str, list[int]]:
        return {}

    def read_rows_by_rowid(
        self, ks: str, table: str, run_id: int, fields: Mapping[str, FieldType], rowids: Sequence[int]
    ) -> dict[int, Row]:
        return {}
