"""CassandraBackend's batch-path reads without Cassandra: dependency entries read only the dependency runs and
give exactly what the whole-keyspace read gave; table specs are built once per creator; one publisher per process."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Sequence
from typing import Any, cast

import pytest
from cassandra.cluster import Session
from pika.exceptions import StreamLostError

from capillaries_provider.config import AmqpSettings, CassandraSettings
from capillaries_provider.engine.ports import BatchTask, DependencyLookupError
from capillaries_provider.queue import publisher as publisher_module
from capillaries_provider.queue.message import decode
from capillaries_provider.queue.topology import queue_names
from capillaries_provider.script.model import TableCreator
from capillaries_provider.status import NodeBatchStatus, RunStatus
from capillaries_provider.store.workflow import NodeHistoryEvent, RunHistoryEvent, RunProperties
from capillaries_provider.worker.backend import CassandraBackend, table_spec
from tests.unit.engine.batch_fakes import FakeBackend, csv_int_reader, int_fields, make_script

KS = "ks"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
NODES = ("a", "b", "c")


class MemoryStore:
    """The WorkflowStore reads the backend uses, over a FakeBackend's rows; counts what each read asked for."""

    def __init__(self, rows: FakeBackend, last_run: int) -> None:
        self.rows = rows
        self.last_run = last_run
        self.props_reads: list[list[int]] = []
        self.history_reads: list[list[int]] = []
        self.node_reads: list[tuple[list[int], str]] = []

    def last_run_id(self) -> int:
        return self.last_run

    def read_run_properties_of(self, run_ids: Sequence[int]) -> list[RunProperties]:
        self.props_reads.append(list(run_ids))
        affected = self.rows.affected
        return [RunProperties(r, (), affected[r], "s", "", "") for r in run_ids if r in affected]

    def read_run_history_of(self, run_ids: Sequence[int]) -> list[RunHistoryEvent]:
        self.history_reads.append(list(run_ids))
        return [e for e in self.rows.runs.values() if e.run_id in run_ids]

    def read_node_history_of(self, run_ids: Sequence[int], node: str) -> list[NodeHistoryEvent]:
        self.node_reads.append((list(run_ids), node))
        return [e for e in self.rows.nodes.values() if e.run_id in run_ids and e.script_node == node]


class Backend(CassandraBackend):
    def __init__(self, store: MemoryStore) -> None:
        super().__init__(CassandraSettings(), AmqpSettings(), session=cast(Session, object()))
        self.memory = store

    def store(self, ks: str) -> Any:
        return self.memory


def random_keyspace(rng: random.Random) -> FakeBackend:
    """Up to 6 runs with random affected nodes, run history and node history (any ts order, several batches)."""
    runs = rng.randint(1, 6)
    fake = FakeBackend({r: tuple(n for n in NODES if rng.random() < 0.6) for r in range(1, runs + 1)})
    for r in range(1, runs + 1):
        for status in rng.sample([RunStatus.START, RunStatus.COMPLETE, RunStatus.STOP], rng.randint(0, 3)):
            fake.runs[(r, status)] = RunHistoryEvent(T0 + dt.timedelta(seconds=rng.randint(0, 50)), r, status, "")
        for node in NODES:
            for _ in range(rng.randint(0, 4)):
                status = rng.choice(list(NodeBatchStatus))
                batch = rng.randint(0, 2)
                ts = T0 + dt.timedelta(seconds=rng.randint(0, 50))
                fake.nodes[(r, node, batch, status)] = NodeHistoryEvent(ts, r, node, batch, status, "")
    return fake


def test_dependency_entries_equal_the_whole_keyspace_read_in_random_keyspaces() -> None:
    rng = random.Random(18)
    checked = 0
    for _ in range(400):
        fake = random_keyspace(rng)
        backend = Backend(MemoryStore(fake, max(fake.affected)))
        current = rng.randint(1, max(fake.affected))  # runs newer than the current one are dependency runs too
        deps = rng.sample(NODES, rng.randint(1, 2))
        try:
            expected = fake.dependency_entries(KS, current, deps)
        except DependencyLookupError:
            with pytest.raises(DependencyLookupError):
                backend.dependency_entries(KS, current, deps)
            continue
        assert backend.dependency_entries(KS, current, deps) == expected
        checked += 1
    assert checked > 200


def test_only_the_dependency_runs_partitions_are_read_and_properties_once() -> None:
    fake = FakeBackend({1: ("a", "b"), 2: ("b",), 3: ("a", "c"), 4: ("c",)})
    store = MemoryStore(fake, 4)
    backend = Backend(store)
    backend.dependency_entries(KS, 2, ["a"])
    backend.dependency_entries(KS, 2, ["a", "c"])
    assert store.props_reads == [[1, 2, 3, 4]]
    assert store.history_reads == [[1, 3], [1, 3, 4]]
    assert store.node_reads == [([1, 3], "a"), ([1, 3], "a"), ([3, 4], "c")]


def test_a_run_whose_properties_are_not_written_yet_is_read_again() -> None:
    fake = FakeBackend({1: ("a",)})
    store = MemoryStore(fake, 2)  # run 2 has its id, not yet its properties
    backend = Backend(store)
    assert [e.run_id for e in backend.dependency_entries(KS, 1, ["a"])["a"]] == [1]
    fake.affected[2] = ("a",)
    assert [e.run_id for e in backend.dependency_entries(KS, 1, ["a"])["a"]] == [1, 2]
    assert store.props_reads == [[1, 2], [2]]


def test_table_spec_is_built_once_per_creator() -> None:
    script = make_script(
        {
            "read": {
                "type": "file_table",
                "r": csv_int_reader(["a.csv"]),
                "w": {"name": "t", "fields": int_fields(x="r.c")},
            }
        }
    )
    creator = script.nodes["read"].table_creator
    assert creator is not None
    assert table_spec(creator) is table_spec(creator)
    other = TableCreator("t", creator.fields)
    assert table_spec(other) is not table_spec(creator)
    assert table_spec(other) == table_spec(creator)


class FakeChannel:
    def __init__(self) -> None:
        self.is_open = True
        self.bodies: list[bytes] = []

    def basic_publish(self, exchange: str, routing_key: str, body: bytes, **kwargs: object) -> None:
        self.bodies.append(body)


class FakeConnection:
    def __init__(self) -> None:
        self.is_open = True
        self.dropped = False

    def process_data_events(self, time_limit: float) -> None:
        if self.dropped:
            self.is_open = False
            raise StreamLostError("Transport indicated EOF")

    def close(self) -> None:
        self.is_open = False


def test_one_publisher_connection_per_process_reopened_at_once_when_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[tuple[FakeConnection, FakeChannel]] = []

    def open_channel(settings: AmqpSettings) -> tuple[FakeConnection, FakeChannel, object]:
        opened.append((FakeConnection(), FakeChannel()))
        return (*opened[-1], queue_names(settings.queue))

    monkeypatch.setattr(publisher_module, "open_channel", open_channel)
    monkeypatch.setattr(time, "sleep", lambda s: pytest.fail("no back-off expected"))
    backend = CassandraBackend(CassandraSettings(), AmqpSettings(), session=cast(Session, object()))
    task = BatchTask(KS, 1, "n", 0, 2, 0, 0, "s.json", "")
    backend.publish([task])
    backend.publish([task, task])
    assert len(opened) == 1
    assert len(opened[0][1].bodies) == 3
    assert decode(opened[0][1].bodies[0]).id.startswith("000000-")
    opened[0][0].dropped = True  # the broker closed the idle connection
    backend.publish([task])
    assert len(opened) == 2
    assert len(opened[1][1].bodies) == 1
