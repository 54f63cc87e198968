"""The dependency decision cache (spec 5.5: 1 s per ks/run/node, LRU 1000) with an injected clock."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from batch_fakes import KS, FakeBackend, csv_int_reader, int_fields, make_script

from capillaries_provider.engine.batch import BatchProcessor, Decision
from capillaries_provider.engine.dependency import DecisionCache, DependencyDecision
from capillaries_provider.engine.ports import DependencyLookupError, NodeRunEntry
from capillaries_provider.engine.processors.context import BatchJob, BatchStats
from capillaries_provider.engine.processors.registry import Processor
from capillaries_provider.engine.run import node_tasks
from capillaries_provider.script.model import DependencyCmd, NodeType, Script
from capillaries_provider.status import NodeBatchStatus, RunStatus

GO = DependencyDecision(DependencyCmd.GO, 1, 0, "go")
WAIT = DependencyDecision(DependencyCmd.WAIT, 1, 0, "wait")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_decision_is_reused_for_one_second_then_recomputed() -> None:
    clock = Clock()
    cache = DecisionCache(clock)
    calls: list[int] = []

    def compute() -> DependencyDecision:
        calls.append(1)
        return WAIT if len(calls) == 1 else GO

    assert cache.decide(KS, 1, "n", compute) is WAIT
    clock.now += 0.999
    assert cache.decide(KS, 1, "n", compute) is WAIT  # a wait is reused within the second
    assert len(calls) == 1
    clock.now += 0.001
    assert cache.decide(KS, 1, "n", compute) is GO
    assert len(calls) == 2


def test_entries_are_per_keyspace_run_and_node() -> None:
    cache = DecisionCache(Clock())
    cache.decide(KS, 1, "n", lambda: WAIT)
    assert cache.decide(KS, 1, "m", lambda: GO) is GO
    assert cache.decide(KS, 2, "n", lambda: GO) is GO
    assert cache.decide("other", 1, "n", lambda: GO) is GO
    assert cache.decide(KS, 1, "n", lambda: GO) is WAIT


def test_a_failed_lookup_is_not_cached() -> None:
    cache = DecisionCache(Clock())

    def fail() -> DependencyDecision:
        raise DependencyLookupError("never run")

    with pytest.raises(DependencyLookupError):
        cache.decide(KS, 1, "n", fail)
    assert cache.decide(KS, 1, "n", lambda: GO) is GO


def test_least_recently_used_entry_is_evicted() -> None:
    cache = DecisionCache(Clock(), max_entries=2)
    cache.decide(KS, 1, "a", lambda: WAIT)
    cache.decide(KS, 1, "b", lambda: WAIT)
    cache.decide(KS, 1, "a", lambda: GO)  # hit: "a" becomes the most recently used
    cache.decide(KS, 1, "c", lambda: WAIT)  # evicts "b"
    assert cache.decide(KS, 1, "a", lambda: GO) is WAIT
    assert cache.decide(KS, 1, "b", lambda: GO) is GO


def script() -> Script:
    return make_script(
        {
            "read": {
                "type": "file_table",
                "r": csv_int_reader(["a.csv"]),
                "w": {"name": "t1", "fields": int_fields(x="r.c")},
            },
            "calc": {
                "type": "table_table",
                "r": {"table": "t1", "expected_batches_total": 2},
                "w": {"name": "t2", "fields": int_fields(y="r.x * 2")},
            },
        }
    )


def no_op_processors(node_type: NodeType) -> Processor:
    def run(job: BatchJob) -> BatchStats:
        return BatchStats("src", "dst", 0, 0, 0.0)

    return run


class CountingBackend(FakeBackend):
    def __init__(self) -> None:
        super().__init__({1: ("read", "calc")})
        self.lookups = 0

    def dependency_entries(self, ks: str, run_id: int, dep_nodes: Sequence[str]) -> dict[str, list[NodeRunEntry]]:
        self.lookups += 1
        return super().dependency_entries(ks, run_id, dep_nodes)


def test_processor_reuses_a_wait_for_a_second_then_sees_the_dependency_done() -> None:
    be = CountingBackend()
    be.set_run_status(KS, 1, RunStatus.START, "")
    clock = Clock()
    s = script()
    proc = BatchProcessor(be, be, lambda url, params: s, processors=no_op_processors, decisions=DecisionCache(clock))
    calc = node_tasks(s, "calc", ks=KS, run_id=1, script_url="s.json", script_params_url="")

    assert proc.process(calc[0]).decision is Decision.RETRY  # read has not run: wait
    be.set_node_status(KS, 1, "read", 0, NodeBatchStatus.SUCCESS, "")
    assert proc.process(calc[1]).decision is Decision.RETRY  # the cached wait, no lookup
    assert be.lookups == 1
    clock.now += 1.0
    assert proc.process(calc[1]).recorded is NodeBatchStatus.SUCCESS
    assert proc.process(calc[0]).recorded is NodeBatchStatus.SUCCESS  # the cached go
    assert be.lookups == 2


def test_processor_without_a_cache_decides_every_batch() -> None:
    be = CountingBackend()
    be.set_run_status(KS, 1, RunStatus.START, "")
    s = script()
    proc = BatchProcessor(be, be, lambda url, params: s, processors=no_op_processors)
    calc = node_tasks(s, "calc", ks=KS, run_id=1, script_url="s.json", script_params_url="")
    proc.process(calc[0])
    be.set_node_status(KS, 1, "read", 0, NodeBatchStatus.SUCCESS, "")
    assert proc.process(calc[1]).recorded is NodeBatchStatus.SUCCESS
    assert be.lookups == 2
