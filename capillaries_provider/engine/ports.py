"""What the engine needs from storage and messaging, as protocols (DESIGN.md: engine knows "a storage interface").

The engine sits below `store` (cassandra-driver) and `queue` (pika), so it cannot import them; the worker layer
supplies one object implementing these protocols over Cassandra and RabbitMQ, and unit tests supply in-memory
fakes. Status codes are the store's own (`capillaries_provider.status`).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from capillaries_provider.expr.types import FieldType, Value
from capillaries_provider.script.model import TableCreator
from capillaries_provider.status import NodeBatchStatus, RefreshOutcome, RunStatus

Row = dict[str, Value]


class Driver(enum.Enum):
    """Who enqueues a run's batches: the workers themselves (cli), Airflow node tasks, or nobody because
    `capillaries exec-node` processes one node's batches in its own process."""

    CLI = "cli"
    AIRFLOW = "airflow"
    EXEC_NODE = "exec_node"


@dataclass(frozen=True)
class BatchTask:
    """One batch of one node of one run: the batch message of spec 4.1 itself, from consumer to processor to
    publisher; `queue/message.py` is only its JSON encoding. `id`/`ts_ms` are set when the task is published."""

    ks: str
    run_id: int
    target_node: str
    batch_idx: int
    batches_total: int
    first_token: int
    last_token: int
    script_url: str
    script_params_url: str
    id: str = ""
    ts_ms: int = 0

    @property
    def full_id(self) -> str:
        """`ks/run/node/batch`, as Capillaries names a batch in logs and errors."""
        return f"{self.ks}/{self.run_id}/{self.target_node}/{self.batch_idx}"


@dataclass(frozen=True)
class BatchEvent:
    """One `wf_batch_history` row of a batch, reduced to what the state machine looks at."""

    ts: dt.datetime
    status: NodeBatchStatus
    comment: str = ""


@dataclass(frozen=True)
class NodeRunEntry:
    """`nrs` of the dependency policy for one (run, dependency node) pair (spec 5.5 steps 1-4)."""

    run_id: int
    run_is_current: bool
    run_status: RunStatus
    node_status: NodeBatchStatus


class DependencyLookupError(Exception):
    """The dependency status of a node cannot be built (e.g. the dependency node was never run in the keyspace)."""


class RowSink(Protocol):
    """Writes the rows of one batch into a run's data and index tables (bounded in-flight window)."""

    def write(self, row: Mapping[str, Value]) -> int: ...

    def flush(self) -> object: ...


class DataStore(Protocol):
    """Data-table access for processors; `table`/`index` are script names, the run id selects the physical table."""

    def read_token_range(
        self,
        ks: str,
        table: str,
        run_id: int,
        fields: Mapping[str, FieldType],
        first_token: int,
        last_token: int,
        rowset_size: int,
    ) -> Iterator[list[Row]]: ...

    def row_writer(self, ks: str, creator: TableCreator, run_id: int, batch_idx: int) -> RowSink: ...

    def read_index_rowids(
        self, ks: str, index: str, run_id: int, keys: Sequence[str]
    ) -> Mapping[str, Sequence[int]]: ...

    def read_rows_by_rowid(
        self, ks: str, table: str, run_id: int, fields: Mapping[str, FieldType], rowids: Sequence[int]
    ) -> dict[int, Row]: ...


class WorkflowPort(Protocol):
    """Workflow-table reads and writes the batch state machine and run control need (spec 3.2, 5)."""

    def now(self) -> dt.datetime: ...

    def is_transient(self, exc: BaseException) -> bool:
        """True when `exc` means "storage/broker unreachable now": the message is retried, nothing recorded."""
        ...

    def run_status(self, ks: str, run_id: int) -> RunStatus: ...

    def batch_events(self, ks: str, run_id: int, node: str, batch_idx: int) -> list[BatchEvent]: ...

    def set_batch_status(self, task: BatchTask, status: NodeBatchStatus, comment: str) -> None: ...

    def set_node_status(
        self, ks: str, run_id: int, node: str, batch_idx: int, status: NodeBatchStatus, comment: str
    ) -> None: ...

    def refresh_node_and_run_status(self, ks: str, run_id: int, node: str, batch_idx: int) -> RefreshOutcome: ...

    def dependency_entries(self, ks: str, run_id: int, dep_nodes: Sequence[str]) -> dict[str, list[NodeRunEntry]]:
        """Per dependency node, one entry per run that had it affected; DependencyLookupError if some has none."""
        ...

    def run_driver(self, ks: str, run_id: int) -> Driver: ...

    def node_statuses(self, ks: str, run_id: int) -> dict[str, NodeBatchStatus]:
        """Status of every node of the run that has node history (spec 5.5 step 3)."""
        ...

    def affected_nodes(self, ks: str, run_id: int) -> tuple[str, ...]: ...

    def claim_enqueue(self, ks: str, run_id: int, node: str) -> bool | None:
        """Claim the right to enqueue a node's batches (LWT): True = go ahead, False = someone already published,
        None = someone claimed it recently and has not confirmed yet (check again later)."""
        ...

    def confirm_enqueued(self, ks: str, run_id: int, node: str) -> None: ...

    def publish(self, tasks: Sequence[BatchTask]) -> None: ...


class RunControlPort(WorkflowPort, Protocol):
    """Additional writes of the run starter (spec 5.1, 5.2)."""

    def ensure_keyspace(self, ks: str) -> None:
        """Create the keyspace, the workflow tables and the run counter row if missing."""
        ...

    def next_run_id(self, ks: str) -> int: ...

    def write_run_properties(
        self,
        ks: str,
        run_id: int,
        start_nodes: Sequence[str],
        affected_nodes: Sequence[str],
        script_url: str,
        script_params_url: str,
        description: str,
    ) -> None: ...

    def set_run_driver(self, ks: str, run_id: int, driver: Driver) -> None: ...

    def create_run_tables(self, ks: str, run_id: int, creators: Sequence[TableCreator]) -> None: ...

    def set_run_status(self, ks: str, run_id: int, status: RunStatus, comment: str) -> None: ...
