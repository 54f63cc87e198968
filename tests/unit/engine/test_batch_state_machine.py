"""The batch state machine of spec 5.3 over an in-memory backend: every branch and what it records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from batch_fakes import KS, FakeBackend, TransientError, csv_int_reader, int_fields, make_script

from capillaries_provider.engine.batch import BatchOutcome, BatchProcessor, Decision, FailureNotRecorded
from capillaries_provider.engine.ports import BatchEvent, BatchTask
from capillaries_provider.engine.processors.context import BatchJob, BatchStats
from capillaries_provider.engine.processors.registry import Processor
from capillaries_provider.engine.run import node_tasks
from capillaries_provider.script.errors import ScriptError, ScriptFetchError, ScriptValidationError
from capillaries_provider.script.model import NodeType, Script
from capillaries_provider.status import NodeBatchStatus, RunStatus


def script() -> Script:
    return make_script(
        {
            "read": {
                "type": "file_table",
                "r": csv_int_reader(["a.csv", "b.csv"]),
                "w": {"name": "t1", "fields": int_fields(x="r.c")},
            },
            "calc": {
                "type": "table_table",
                "max_batch_processing_time": 5000,
                "r": {"table": "t1", "expected_batches_total": 2},
                "w": {"name": "t2", "fields": int_fields(y="r.x * 2")},
            },
            "strict": {
                "type": "table_table",
                "rerun_policy": "fail",
                "start_policy": "manual",
                "r": {"table": "t1"},
                "w": {"name": "t3", "fields": int_fields(z="r.x")},
            },
        }
    )


def task(node: str, batch_idx: int = 0, run_id: int = 1) -> BatchTask:
    return node_tasks(script(), node, ks=KS, run_id=run_id, script_url="s.json", script_params_url="")[batch_idx]


def stats_processor(calls: list[BatchJob]) -> Callable[[NodeType], Processor]:
    def run(job: BatchJob) -> BatchStats:
        calls.append(job)
        return BatchStats("src", "dst", 10, 7, 0.5)

    return lambda node_type: run


def failing_processor(exc: Exception) -> Callable[[NodeType], Processor]:
    def run(job: BatchJob) -> BatchStats:
        raise exc

    return lambda node_type: run


def started(affected: tuple[str, ...] = ("read", "calc")) -> FakeBackend:
    be = FakeBackend({1: affected})
    be.set_run_status(KS, 1, RunStatus.START, "")
    return be


def processor(be: FakeBackend, calls: list[BatchJob] | None = None, **kw: object) -> BatchProcessor:
    procs = kw.pop("processors", None) or stats_processor(calls if calls is not None else [])
    loader = kw.pop("scripts", None) or (lambda url, params: script())
    return BatchProcessor(be, be, loader, processors=procs)  # type: ignore[arg-type]


def test_success_records_start_then_success_with_stats_comment() -> None:
    be = started()
    calls: list[BatchJob] = []
    out = processor(be, calls).process(task("read", 0))
    stats = BatchStats("src", "dst", 10, 7, 0.5)
    assert out == BatchOutcome(Decision.ACK, NodeBatchStatus.SUCCESS, out.detail, stats, started=True)
    statuses = [e.status for e in be.batch_history(1, "read", 0)]
    assert statuses == [NodeBatchStatus.START, NodeBatchStatus.SUCCESS]
    comment = be.batch_history(1, "read", 0)[-1].comment
    assert "src -> dst" in comment and "row_reads: 10, 20 r/s" in comment and "row_writes: 7, 14 r/s" in comment
    assert be.node_history(1)[0].status is NodeBatchStatus.START
    assert calls[0].reader_run_id == 0  # a file node has no table input


def test_run_never_started_records_fail_and_acks() -> None:
    be = FakeBackend({1: ("read",)})
    out = processor(be).process(task("read"))
    assert out.decision is Decision.ACK and out.recorded is NodeBatchStatus.FAIL and not out.started
    assert "never started" in be.batch_history(1, "read", 0)[-1].comment


def test_stopped_run_marks_batch_stopreceived() -> None:
    be = started()
    be.set_run_status(KS, 1, RunStatus.STOP, "stop")
    calls: list[BatchJob] = []
    out = processor(be, calls).process(task("read", 1))
    assert (out.decision, out.recorded) == (Decision.ACK, NodeBatchStatus.STOPRECEIVED)
    assert calls == []


def test_stop_releases_downstream_nodes_so_they_record_the_stop_too() -> None:
    be = started()
    be.set_run_status(KS, 1, RunStatus.STOP, "stop")
    p = processor(be)
    p.process(task("read", 0))
    p.process(task("read", 1))
    assert [(t.target_node, t.batch_idx) for t in be.published] == [("calc", 0), ("calc", 1)]
    for t in be.published:
        assert p.process(t).recorded is NodeBatchStatus.STOPRECEIVED
    assert be.node_statuses(KS, 1) == {"read": NodeBatchStatus.STOPRECEIVED, "calc": NodeBatchStatus.STOPRECEIVED}
    assert be.run_status(KS, 1) is RunStatus.STOP


def test_complete_run_acks_without_recording() -> None:
    be = started()
    be.set_run_status(KS, 1, RunStatus.COMPLETE, "")
    out = processor(be).process(task("read"))
    assert (out.decision, out.recorded) == (Decision.ACK, None)
    assert be.batches == {}


def test_finished_batch_is_not_processed_again() -> None:
    be = started()
    calls: list[BatchJob] = []
    p = processor(be, calls)
    p.process(task("read", 0))
    out = p.process(task("read", 0))
    assert (out.decision, out.recorded) == (Decision.ACK, None)
    assert len(calls) == 1


def test_started_batch_waits_out_grace_period_then_is_redone() -> None:
    be = started()
    be.set_node_status(KS, 1, "read", 0, NodeBatchStatus.SUCCESS, "")
    be.set_batch_status(task("calc", 0), NodeBatchStatus.START, "")  # an attempt that died
    calls: list[BatchJob] = []
    p = processor(be, calls)
    assert p.process(task("calc", 0)).decision is Decision.RETRY  # 0 s after start, grace is 5 s
    be.clock += dt.timedelta(seconds=5)
    out = p.process(task("calc", 0))
    assert (out.decision, out.recorded) == (Decision.ACK, NodeBatchStatus.SUCCESS)
    assert calls[0].reader_run_id == 1


def test_rerun_policy_fail_records_failure_instead_of_hanging() -> None:
    be = started(("read", "strict"))
    be.set_node_status(KS, 1, "read", 0, NodeBatchStatus.SUCCESS, "")
    be.set_batch_status(task("strict", 0), NodeBatchStatus.START, "")
    out = processor(be).process(task("strict", 0))
    assert (out.decision, out.recorded) == (Decision.ACK, NodeBatchStatus.FAIL)
    assert "rerun_policy fail" in be.batch_history(1, "strict", 0)[-1].comment


def test_dependency_not_finished_means_retry_and_nothing_recorded() -> None:
    be = started()
    be.set_node_status(KS, 1, "read", 0, NodeBatchStatus.START, "")
    out = processor(be).process(task("calc", 1))
    assert out.decision is Decision.RETRY
    assert be.batch_history(1, "calc", 1) == []


def test_dependency_failed_is_nogo_with_reason_in_comment() -> None:
    be = started()
    be.set_node_status(KS, 1, "read", 0, NodeBatchStatus.FAIL, "")
    out = processor(be).process(task("calc", 1))
    assert (out.decision, out.recorded) == (Decision.ACK, NodeBatchStatus.FAIL)
    comment = be.batch_history(1, "calc", 1)[-1].comment
    assert comment == "dependency nogo: read: nogo on current run 1 (run start, node fail)"


def test_dependency_never_run_records_failure() -> None:
    be = FakeBackend({1: ("strict",)})
    be.set_run_status(KS, 1, RunStatus.START, "")
    out = processor(be).process(task("strict", 0))
    assert (out.decision, out.recorded) == (Decision.ACK, NodeBatchStatus.FAIL)
    assert "read was never run" in be.batch_history(1, "strict", 0)[-1].comment


def test_later_run_reads_table_of_completed_earlier_run() -> None:
    be = FakeBackend({1: ("read",), 2: ("strict",)})
    be.set_run_status(KS, 1, RunStatus.START, "")
    be.set_node_status(KS, 1, "read", 0, NodeBatchStatus.SUCCESS, "")
    be.set_run_status(KS, 1, RunStatus.COMPLETE, "")
    be.set_run_status(KS, 2, RunStatus.START, "")
    calls: list[BatchJob] = []
    out = processor(be, calls).process(task("strict", 0, run_id=2))
    assert out.recorded is NodeBatchStatus.SUCCESS
    assert calls[0].reader_run_id == 1


def test_processor_error_records_fail_naming_the_batch() -> None:
    be = started()
    out = processor(be, processors=failing_processor(ValueError("a.csv, line 3: bad"))).process(task("read", 1))
    assert (out.decision, out.recorded, out.stats, out.started) == (Decision.ACK, NodeBatchStatus.FAIL, None, True)
    assert be.batch_history(1, "read", 1)[-1].comment == "ks/1/read/1: ValueError: a.csv, line 3: bad"


def test_transient_error_while_processing_retries_and_leaves_batch_started() -> None:
    be = started()
    out = processor(be, processors=failing_processor(TransientError("no hosts"))).process(task("read", 0))
    assert out.decision is Decision.RETRY and out.started and out.stats is None
    assert be.batch_history(1, "read", 0)[-1].status is NodeBatchStatus.START


def test_script_content_error_records_fail_and_fetch_error_retries() -> None:
    be = started()

    def broken(url: str, params: str) -> Script:
        raise ScriptValidationError([ScriptError("bad key", file=url)])

    def unreachable(url: str, params: str) -> Script:
        raise ScriptFetchError("cannot read s.json")

    out = processor(be, scripts=broken).process(task("read", 0))
    assert (out.decision, out.recorded) == (Decision.ACK, NodeBatchStatus.FAIL)
    assert "bad key" in be.batch_history(1, "read", 0)[-1].comment
    assert processor(be, scripts=unreachable).process(task("read", 1)).decision is Decision.RETRY


def test_node_missing_from_script_records_fail() -> None:
    be = started()
    t = BatchTask(KS, 1, "ghost", 0, 1, 0, 0, "s.json", "")
    out = processor(be).process(t)
    assert (out.decision, out.recorded) == (Decision.ACK, NodeBatchStatus.FAIL)
    assert "ghost is not in s.json" in be.batch_history(1, "ghost", 0)[-1].comment


def test_last_batch_of_node_enqueues_children_once_and_run_completes() -> None:
    be = started()
    p = processor(be)
    p.process(task("read", 0))
    assert be.published == []  # node not finished yet
    p.process(task("read", 1))
    assert [(t.target_node, t.batch_idx) for t in be.published] == [("calc", 0), ("calc", 1)]
    p.process(task("read", 1))  # redelivered: refresh again, no second enqueue
    assert len(be.published) == 2
    p.process(task("calc", 0))
    out = p.process(task("calc", 1))
    assert out.recorded is NodeBatchStatus.SUCCESS
    assert be.run_status(KS, 1) is RunStatus.COMPLETE


def test_pending_claim_elsewhere_means_retry() -> None:
    be = started()
    be.claims[(1, "calc")] = False  # another worker claimed and has not confirmed yet
    p = processor(be)
    p.process(task("read", 0))
    out = p.process(task("read", 1))
    assert out.decision is Decision.RETRY and out.recorded is NodeBatchStatus.SUCCESS
    assert be.published == []


class BrokenHistory(FakeBackend):
    """A storage step of the state machine that fails; `record_error`, if given, makes recording the failure fail."""

    def __init__(self, record_error: Exception | None = None) -> None:
        super().__init__({1: ("read", "calc")})
        self.record_error = record_error

    def batch_events(self, ks: str, run_id: int, node: str, batch_idx: int) -> list[BatchEvent]:
        raise RuntimeError("bug in reading")

    def set_batch_status(self, task: BatchTask, status: NodeBatchStatus, comment: str) -> None:
        if status is NodeBatchStatus.FAIL and self.record_error is not None:
            raise self.record_error
        super().set_batch_status(task, status, comment)


def test_unexpected_error_is_recorded_as_internal_error_by_the_processor() -> None:
    be = BrokenHistory()
    be.set_run_status(KS, 1, RunStatus.START, "")
    out = processor(be).process(task("read", 0))
    assert (out.decision, out.recorded) == (Decision.ACK, NodeBatchStatus.FAIL)
    assert be.batch_history(1, "read", 0)[-1].comment == "ks/1/read/0: internal error: RuntimeError('bug in reading')"


def test_failure_that_cannot_be_recorded_retries_if_transient_else_propagates() -> None:
    be = BrokenHistory(TransientError("no hosts"))
    be.set_run_status(KS, 1, RunStatus.START, "")
    assert processor(be).process(task("read", 0)).decision is Decision.RETRY
    be = BrokenHistory(ValueError("schema mismatch"))
    be.set_run_status(KS, 1, RunStatus.START, "")
    with pytest.raises(FailureNotRecorded, match=r"internal error RuntimeError\('bug in reading'\); recording it"):
        processor(be).process(task("read", 0))
