"""The five `wf_*` workflow tables (spec 3.2): run counter, run properties, run/node/batch status history.

Table names, columns, keys and status codes are exactly Capillaries' so its Go daemon, toolbelt and UI can read a
keyspace written by this package. The decision logic (what the current status is, whether a node or a run is
complete) lives in pure functions below the `WorkflowStore` I/O class so it can be unit-tested without Cassandra.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cassandra import WriteTimeout
from cassandra.cluster import Session

from capillaries_provider.script.names import validate_keyspace_name
from capillaries_provider.status import NodeBatchStatus, RefreshOutcome, RunStatus
from capillaries_provider.store.errors import StoreError
from capillaries_provider.store.session import execute_schema, prepare_cached

WORKFLOW_DDL: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS {ks}.wf_batch_history (ts timestamp, run_id int, script_node text, batch_idx int,"
    " batches_total int, status tinyint, first_token bigint, last_token bigint, instance text, thread bigint,"
    " comment text, PRIMARY KEY(run_id, script_node, batch_idx, status))",
    "CREATE TABLE IF NOT EXISTS {ks}.wf_node_history (ts timestamp, run_id int, script_node text,"
    " written_by_batch_idx int, status tinyint, comment text,"
    " PRIMARY KEY(run_id, script_node, written_by_batch_idx, status))",
    "CREATE TABLE IF NOT EXISTS {ks}.wf_run_history (ts timestamp, run_id int, status tinyint, comment text,"
    " PRIMARY KEY(run_id, status))",
    "CREATE TABLE IF NOT EXISTS {ks}.wf_run_properties (run_id int, start_nodes text, affected_nodes text,"
    " script_url text, script_params_url text, run_description text, PRIMARY KEY(run_id))",
    "CREATE TABLE IF NOT EXISTS {ks}.wf_run_counter (ks text, last_run int, PRIMARY KEY(ks))",
)

# The counter row every keyspace starts with; the keyspace name is a validated identifier, safe as a literal.
RUN_COUNTER_INIT = "INSERT INTO {ks}.wf_run_counter (ks, last_run) VALUES ('{ks}', 0) IF NOT EXISTS"

RUN_COUNTER_ATTEMPTS = 100

# Partition keys per `IN` query: Amazon Keyspaces accepts at most 100 (spec 9.3).
RUN_IDS_PER_IN_QUERY = 100


@dataclass(frozen=True)
class RunProperties:
    run_id: int
    start_nodes: tuple[str, ...]
    affected_nodes: tuple[str, ...]
    script_url: str
    script_params_url: str
    run_description: str


@dataclass(frozen=True)
class RunHistoryEvent:
    ts: dt.datetime
    run_id: int
    status: RunStatus
    comment: str


@dataclass(frozen=True)
class NodeHistoryEvent:
    ts: dt.datetime
    run_id: int
    script_node: str
    written_by_batch_idx: int
    status: NodeBatchStatus
    comment: str


@dataclass(frozen=True)
class BatchRef:
    """Identity of one batch as carried by its queue message."""

    run_id: int
    script_node: str
    batch_idx: int
    batches_total: int
    first_token: int
    last_token: int


@dataclass(frozen=True)
class BatchHistoryEvent:
    ts: dt.datetime
    batch: BatchRef
    status: NodeBatchStatus
    instance: str
    thread: int
    comment: str


def instance_id(executable_type: str, started: dt.datetime) -> str:
    """`<hostname>/<executable type>/<process start MM-DDTHH:MM:SS.mmm>`, the `instance` column of batch rows."""
    return f"{socket.gethostname()}/{executable_type}/{started:%m-%dT%H:%M:%S}.{started.microsecond // 1000:03d}"


# ---------------------------------------------------------------------------------------------------------------
# Pure decisions


def latest_run_status(events: Iterable[RunHistoryEvent]) -> RunStatus:
    """Status of the latest row by ts (spec 5.3 step 2); no rows -> NONE."""
    latest = max(events, key=lambda e: e.ts, default=None)
    return RunStatus.NONE if latest is None else latest.status


def dominant_run_status(events: Iterable[RunHistoryEvent]) -> RunStatus:
    """Run status for dependency checks (spec 5.5 step 2): stop dominates, then complete, then start."""
    seen = {e.status for e in events}
    for status in (RunStatus.STOP, RunStatus.COMPLETE, RunStatus.START):
        if status in seen:
            return status
    return RunStatus.NONE


def latest_batch_event(events: Iterable[BatchHistoryEvent]) -> BatchHistoryEvent | None:
    """The current status row of a batch = the row with the latest ts (spec 3.2)."""
    return max(events, key=lambda e: e.ts, default=None)


def distinct_node_events(events: Iterable[NodeHistoryEvent]) -> list[NodeHistoryEvent]:
    """Go's `NodeHistoryRowsToEvents` (spec 5.5 step 3): every batch writes its own node rows, so per run/node keep
    the earliest start and the latest success/fail/stopreceived, sorted by (ts, run_id, written_by_batch_idx)."""
    kept: dict[tuple[int, str, NodeBatchStatus], NodeHistoryEvent] = {}
    for e in events:
        if e.status == NodeBatchStatus.NONE:
            continue
        k = (e.run_id, e.script_node, e.status)
        prev = kept.get(k)
        if prev is None:
            kept[k] = e
        elif e.status == NodeBatchStatus.START:
            if e.ts < prev.ts:
                kept[k] = e
        elif e.ts > prev.ts:
            kept[k] = e
    return sorted(kept.values(), key=lambda e: (e.ts, e.run_id, e.written_by_batch_idx))


def node_statuses(events: Iterable[NodeHistoryEvent]) -> dict[tuple[int, str], NodeBatchStatus]:
    """Node status per (run_id, node) from node history (spec 5.5 step 3): walking the distinct events, the latest
    event wins, except that stopreceived is sticky."""
    result: dict[tuple[int, str], NodeBatchStatus] = {}
    for e in distinct_node_events(events):
        k2 = (e.run_id, e.script_node)
        if result.get(k2) != NodeBatchStatus.STOPRECEIVED:
            result[k2] = e.status
    return result


def decide_node_status(events: Sequence[BatchHistoryEvent]) -> NodeBatchStatus | None:
    """Final node status once every batch has a terminal row, else None (spec 5.6).

    fail if any batch failed, else stopreceived if any batch saw the stop, else success.
    """
    if not events:
        return None
    total = events[0].batch.batches_total
    finished: set[int] = set()
    statuses: set[NodeBatchStatus] = set()
    for e in events:
        if e.batch.batches_total != total:
            raise StoreError(
                f"run {e.batch.run_id} node {e.batch.script_node}: batch history disagrees on batches_total"
                f" ({total} vs {e.batch.batches_total} at batch {e.batch.batch_idx})"
            )
        if e.status.finished:
            finished.add(e.batch.batch_idx)
            statuses.add(e.status)
    if len(finished) < total or any(not 0 <= i < total for i in finished):
        return None
    for status in (NodeBatchStatus.FAIL, NodeBatchStatus.STOPRECEIVED):
        if status in statuses:
            return status
    return NodeBatchStatus.SUCCESS


def decide_run_completion(affected_nodes: Sequence[str], statuses: Mapping[str, NodeBatchStatus]) -> str | None:
    """The run-complete comment if the run is complete, else None (spec 5.6).

    Complete when every affected node is past `start` and the highest status is success or fail; a stopped node
    (stopreceived) keeps the run from completing because the run already has a stop record.
    """
    per_node = {n: statuses.get(n, NodeBatchStatus.NONE) for n in affected_nodes}
    if not per_node or any(s <= NodeBatchStatus.START for s in per_node.values()):
        return None
    if max(per_node.values()) not in (NodeBatchStatus.SUCCESS, NodeBatchStatus.FAIL):
        return None
    # Go marshals a map[string]string: sorted keys, no spaces.
    return json.dumps({n: per_node[n].label for n in sorted(per_node)}, separators=(",", ":"))


def node_complete_comment(events: Sequence[BatchHistoryEvent]) -> str:
    """Human-readable summary for the node status row: how many batches ended in which status."""
    last: dict[int, NodeBatchStatus] = {}
    for e in sorted(events, key=lambda e: e.ts):
        if e.status.finished:
            last[e.batch.batch_idx] = e.status
    counts = {s: sum(1 for v in last.values() if v == s) for s in set(last.values())}
    parts = ", ".join(f"{counts[s]} {s.label}" for s in sorted(counts))
    return f"all {len(last)} batches finished: {parts}"


class RunPropertiesCache:
    """All run properties of one keyspace, each row read once per process: a properties row is written once
    (`IF NOT EXISTS`) and never changes, so only runs not seen yet cost a read.

    Run ids are 1..`last_run` of the run counter. An id without a row yet (its starter took the id and has not
    written the properties, or died in between) is never remembered as absent: it is asked for again next time.
    """

    def __init__(
        self, read_last_run: Callable[[], int], read_rows: Callable[[Sequence[int]], Iterable[RunProperties]]
    ) -> None:
        self._read_last_run = read_last_run
        self._read_rows = read_rows
        self._rows: dict[int, RunProperties] = {}

    def all(self) -> list[RunProperties]:
        """The properties of every run that has them, by run id (what reading the whole table returns)."""
        last = self._read_last_run()
        unseen = [r for r in range(1, last + 1) if r not in self._rows]
        if unseen:
            for props in self._read_rows(unseen):
                self._rows[props.run_id] = props
        return [self._rows[r] for r in range(1, last + 1) if r in self._rows]


# ---------------------------------------------------------------------------------------------------------------
# I/O


def _utc(ts: dt.datetime | None) -> dt.datetime:
    # The driver returns naive UTC datetimes; a missing ts (never written by us) sorts first.
    if ts is None:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return ts.replace(tzinfo=dt.UTC) if ts.tzinfo is None else ts


def _split_nodes(text: str | None) -> tuple[str, ...]:
    return tuple(n for n in (text or "").split(",") if n)


class WorkflowStore:
    """Reads and writes the workflow tables of one keyspace with prepared statements."""

    def __init__(self, session: Session, ks: str) -> None:
        self.session = session
        self.ks = validate_keyspace_name(ks)

    def _execute(self, cql: str, params: Sequence[object]) -> list[dict[str, Any]]:
        return list(self.session.execute(prepare_cached(self.session, cql.format(ks=self.ks)), params))

    def _execute_in(self, cql: str, run_ids: Sequence[int], *params: object) -> list[dict[str, Any]]:
        """`cql` with `run_id IN ?` as its first marker, for any number of run ids: chunks of
        RUN_IDS_PER_IN_QUERY sent concurrently."""
        stmt = prepare_cached(self.session, cql.format(ks=self.ks))
        ids = list(run_ids)
        futures = [
            self.session.execute_async(stmt, (ids[i : i + RUN_IDS_PER_IN_QUERY], *params))
            for i in range(0, len(ids), RUN_IDS_PER_IN_QUERY)
        ]
        return [row for f in futures for row in f.result()]

    # -- schema -----------------------------------------------------------------------------------------------

    def create_tables(self) -> None:
        """Create the five wf tables and the run counter row (idempotent, spec 3.1)."""
        for ddl in WORKFLOW_DDL:
            execute_schema(self.session, ddl.format(ks=self.ks))
        self._execute(RUN_COUNTER_INIT, ())

    # -- run counter and properties ---------------------------------------------------------------------------

    def next_run_id(self) -> int:
        """Allocate the next run id (1, 2, ...) with an optimistic LWT lock (spec 3.2).

        A timeout of the conditional update is ambiguous (it may have been applied); the next attempt re-reads the
        counter, so the worst case is a skipped run id, never a duplicate.
        """
        rows = self._execute("SELECT last_run FROM {ks}.wf_run_counter WHERE ks = ?", (self.ks,))
        if not rows:
            raise StoreError(f"keyspace {self.ks} has no wf_run_counter row; create the workflow tables first")
        last = int(rows[0]["last_run"])
        for _ in range(RUN_COUNTER_ATTEMPTS):
            try:
                result = self._execute(
                    "UPDATE {ks}.wf_run_counter SET last_run = ? WHERE ks = ? IF last_run = ?",
                    (last + 1, self.ks, last),
                )
            except WriteTimeout:
                rows = self._execute("SELECT last_run FROM {ks}.wf_run_counter WHERE ks = ?", (self.ks,))
                last = int(rows[0]["last_run"])
                continue
            if result[0]["[applied]"]:
                return last + 1
            last = int(result[0]["last_run"])
        raise StoreError(f"could not allocate a run id in {self.ks} after {RUN_COUNTER_ATTEMPTS} attempts")

    def last_run_id(self) -> int:
        """The highest run id allocated so far (0 when none, or when the keyspace has no counter row)."""
        rows = self._execute("SELECT last_run FROM {ks}.wf_run_counter WHERE ks = ?", (self.ks,))
        return int(rows[0]["last_run"] or 0) if rows else 0

    def write_run_properties(self, props: RunProperties) -> bool:
        """Insert the run's properties; False if the run id already had properties (first writer wins)."""
        result = self._execute(
            "INSERT INTO {ks}.wf_run_properties (run_id, start_nodes, affected_nodes, script_url,"
            " script_params_url, run_description) VALUES (?, ?, ?, ?, ?, ?) IF NOT EXISTS",
            (
                props.run_id,
                ",".join(props.start_nodes),
                ",".join(props.affected_nodes),
                props.script_url,
                props.script_params_url,
                props.run_description,
            ),
        )
        return bool(result[0]["[applied]"])

    def read_all_run_properties(self) -> list[RunProperties]:
        rows = self._execute(
            "SELECT run_id, start_nodes, affected_nodes, script_url, script_params_url, run_description"
            " FROM {ks}.wf_run_properties",
            (),
        )
        return sorted((self._props(r) for r in rows), key=lambda p: p.run_id)

    def read_run_properties_of(self, run_ids: Sequence[int]) -> list[RunProperties]:
        """The properties rows of these runs (runs without one are left out)."""
        rows = self._execute_in(
            "SELECT run_id, start_nodes, affected_nodes, script_url, script_params_url, run_description"
            " FROM {ks}.wf_run_properties WHERE run_id IN ?",
            run_ids,
        )
        return sorted((self._props(r) for r in rows), key=lambda p: p.run_id)

    def read_run_properties(self, run_id: int) -> RunProperties | None:
        rows = self._execute(
            "SELECT run_id, start_nodes, affected_nodes, script_url, script_params_url, run_description"
            " FROM {ks}.wf_run_properties WHERE run_id = ?",
            (run_id,),
        )
        return self._props(rows[0]) if rows else None

    @staticmethod
    def _props(r: Mapping[str, Any]) -> RunProperties:
        return RunProperties(
            run_id=int(r["run_id"]),
            start_nodes=_split_nodes(r["start_nodes"]),
            affected_nodes=_split_nodes(r["affected_nodes"]),
            script_url=str(r["script_url"] or ""),
            script_params_url=str(r["script_params_url"] or ""),
            run_description=str(r["run_description"] or ""),
        )

    # -- run status ---------------------------------------------------------------------------------------------

    def set_run_status(self, run_id: int, status: RunStatus, comment: str) -> bool:
        """Record a run status; False if this status was already recorded for the run (first writer wins)."""
        result = self._execute(
            "INSERT INTO {ks}.wf_run_history (ts, run_id, status, comment)"
            " VALUES (toTimestamp(now()), ?, ?, ?) IF NOT EXISTS",
            (run_id, int(status), comment),
        )
        return bool(result[0]["[applied]"])

    def read_run_history(self, run_id: int | None = None) -> list[RunHistoryEvent]:
        """Run history rows of one run (or of all runs), sorted by ts."""
        cols = "SELECT ts, run_id, status, comment FROM {ks}.wf_run_history"
        rows = self._execute(cols, ()) if run_id is None else self._execute(cols + " WHERE run_id = ?", (run_id,))
        return self._run_events(rows)

    def read_run_history_of(self, run_ids: Sequence[int]) -> list[RunHistoryEvent]:
        """Run history rows of these runs only (their partitions), sorted by ts."""
        return self._run_events(
            self._execute_in("SELECT ts, run_id, status, comment FROM {ks}.wf_run_history WHERE run_id IN ?", run_ids)
        )

    @staticmethod
    def _run_events(rows: Iterable[Mapping[str, Any]]) -> list[RunHistoryEvent]:
        events = [
            RunHistoryEvent(
                ts=_utc(r["ts"]),
                run_id=int(r["run_id"]),
                status=RunStatus(r["status"]),
                comment=str(r["comment"] or ""),
            )
            for r in rows
        ]
        return sorted(events, key=lambda e: (e.ts, e.run_id))

    def run_status(self, run_id: int) -> RunStatus:
        """Current run status as the batch processor sees it: the latest row by ts (spec 5.3 step 2)."""
        return latest_run_status(self.read_run_history(run_id))

    # -- node status --------------------------------------------------------------------------------------------

    def set_node_status(
        self, run_id: int, node: str, written_by_batch_idx: int, status: NodeBatchStatus, comment: str
    ) -> None:
        self._execute(
            "INSERT INTO {ks}.wf_node_history (ts, run_id, script_node, written_by_batch_idx, status, comment)"
            " VALUES (toTimestamp(now()), ?, ?, ?, ?, ?)",
            (run_id, node, written_by_batch_idx, int(status), comment or None),
        )

    def read_node_history(self, run_id: int | None = None) -> list[NodeHistoryEvent]:
        """Node history rows of one run (or of all runs), sorted by (ts, run_id, written_by_batch_idx)."""
        cols = "SELECT ts, run_id, script_node, written_by_batch_idx, status, comment FROM {ks}.wf_node_history"
        rows = self._execute(cols, ()) if run_id is None else self._execute(cols + " WHERE run_id = ?", (run_id,))
        return self._node_events(rows)

    def read_node_history_of(self, run_ids: Sequence[int], node: str) -> list[NodeHistoryEvent]:
        """Node history rows of one node in these runs only (partition and first clustering column)."""
        return self._node_events(
            self._execute_in(
                "SELECT ts, run_id, script_node, written_by_batch_idx, status, comment FROM {ks}.wf_node_history"
                " WHERE run_id IN ? AND script_node = ?",
                run_ids,
                node,
            )
        )

    @staticmethod
    def _node_events(rows: Iterable[Mapping[str, Any]]) -> list[NodeHistoryEvent]:
        events = [
            NodeHistoryEvent(
                ts=_utc(r["ts"]),
                run_id=int(r["run_id"]),
                script_node=str(r["script_node"]),
                written_by_batch_idx=int(r["written_by_batch_idx"]),
                status=NodeBatchStatus(r["status"]),
                comment=str(r["comment"] or ""),
            )
            for r in rows
        ]
        return sorted(events, key=lambda e: (e.ts, e.run_id, e.written_by_batch_idx))

    # -- batch status -------------------------------------------------------------------------------------------

    def set_batch_status(
        self, batch: BatchRef, status: NodeBatchStatus, comment: str, instance: str, thread: int
    ) -> None:
        """Upsert the (run, node, batch, status) row; `instance`/`thread` identify the worker (spec 3.2)."""
        self._execute(
            "INSERT INTO {ks}.wf_batch_history (ts, run_id, script_node, batch_idx, batches_total, status,"
            " first_token, last_token, instance, thread, comment)"
            " VALUES (toTimestamp(now()), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                batch.run_id,
                batch.script_node,
                batch.batch_idx,
                batch.batches_total,
                int(status),
                batch.first_token,
                batch.last_token,
                instance,
                thread,
                comment or None,
            ),
        )

    def read_batch_history(
        self, run_id: int, node: str | None = None, batch_idx: int | None = None
    ) -> list[BatchHistoryEvent]:
        """Batch history rows of a run, of one of its nodes, or of one batch of a node; sorted by ts."""
        cols = (
            "SELECT ts, run_id, script_node, batch_idx, batches_total, status, first_token, last_token, instance,"
            " thread, comment FROM {ks}.wf_batch_history WHERE run_id = ?"
        )
        if node is None:
            if batch_idx is not None:
                raise ValueError("a batch index needs a node")
            rows = self._execute(cols, (run_id,))
        elif batch_idx is None:
            rows = self._execute(cols + " AND script_node = ?", (run_id, node))
        else:
            rows = self._execute(cols + " AND script_node = ? AND batch_idx = ?", (run_id, node, batch_idx))
        events = [
            BatchHistoryEvent(
                ts=_utc(r["ts"]),
                batch=BatchRef(
                    run_id=int(r["run_id"]),
                    script_node=str(r["script_node"]),
                    batch_idx=int(r["batch_idx"]),
                    batches_total=int(r["batches_total"] or 0),
                    first_token=int(r["first_token"] or 0),
                    last_token=int(r["last_token"] or 0),
                ),
                status=NodeBatchStatus(r["status"]),
                instance=str(r["instance"] or ""),
                thread=int(r["thread"] or 0),
                comment=str(r["comment"] or ""),
            )
            for r in rows
        ]
        return sorted(events, key=lambda e: (e.ts, e.batch.script_node, e.batch.batch_idx))

    def batch_status(self, run_id: int, node: str, batch_idx: int) -> BatchHistoryEvent | None:
        """The batch's current status row (latest ts), or None if it was never touched."""
        return latest_batch_event(self.read_batch_history(run_id, node, batch_idx))

    # -- completion ---------------------------------------------------------------------------------------------

    def refresh_node_and_run_status(self, run_id: int, node: str, written_by_batch_idx: int) -> RefreshOutcome:
        """Mark the node finished if all its batches are, then the run complete if all affected nodes are.

        Safe to call any number of times: the node row is an overwrite and the run row is IF NOT EXISTS.
        """
        events = self.read_batch_history(run_id, node)
        node_status = decide_node_status(events)
        if node_status is None:
            return RefreshOutcome(node_status=None, run_completed=False)
        self.set_node_status(run_id, node, written_by_batch_idx, node_status, node_complete_comment(events))
        props = self.read_run_properties(run_id)
        if props is None:
            raise StoreError(f"run {run_id} in {self.ks} has no wf_run_properties row")
        statuses = {n: s for (r, n), s in node_statuses(self.read_node_history(run_id)).items() if r == run_id}
        comment = decide_run_completion(props.affected_nodes, statuses)
        if comment is None:
            return RefreshOutcome(node_status=node_status, run_completed=False)
        self.set_run_status(run_id, RunStatus.COMPLETE, comment)
        return RefreshOutcome(node_status=node_status, run_completed=True)
