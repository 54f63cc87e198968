"""The processor skeleton's hooks (processors/skeleton.py): page offsets, counts, held-back items, failures."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import pytest
from batch_fakes import KS, FakeBackend, FakeSink, csv_int_reader, int_fields, make_script

from capillaries_provider.engine.processors.context import BatchError, BatchJob, writing
from capillaries_provider.engine.processors.rows import RowEvalError
from capillaries_provider.engine.processors.skeleton import Row, each_row, run_pages
from capillaries_provider.engine.run import node_tasks
from capillaries_provider.expr import Vars
from capillaries_provider.expr.types import Value

SCRIPT = make_script(
    {
        "read": {
            "type": "file_table",
            "r": csv_int_reader(["in.csv"]),
            "w": {"name": "t1", "fields": int_fields(c="r.c")},
        },
        "copy": {
            "type": "table_table",
            "r": {"table": "t1", "rowset_size": 2},
            "w": {"name": "t2", "fields": int_fields(c="r.c")},
        },
    }
)


class FlushCounter(FakeSink):
    flushes: int = 0

    def flush(self) -> object:
        self.flushes += 1
        return None


def _job(rows: int) -> tuple[BatchJob, list[int]]:
    be = FakeBackend({1: ("copy",)})
    be.tables["t1_00001"] = FakeSink([{"c": i} for i in range(rows)])
    beats: list[int] = []
    task = node_tasks(SCRIPT, "copy", ks=KS, run_id=1, script_url="s.json", script_params_url="")[0]
    job = BatchJob(task, SCRIPT, SCRIPT.nodes["copy"], be, reader_run_id=1, heartbeat=lambda: beats.append(1))
    return job, beats


def test_pages_get_their_offset_and_every_item_is_written_and_counted() -> None:
    job, beats = _job(5)
    seen: list[tuple[int, int]] = []

    def twice(page: Sequence[Row], offset: int) -> Iterator[Mapping[str, Value]]:
        seen.append((offset, len(page)))
        for row in page:
            yield row
            yield row

    sink = FlushCounter()
    stats = run_pages(
        job, {"c": SCRIPT.reader_fields(job.node)["c"]}, twice, writing(sink, sink.write), source="s", target="t"
    )
    assert seen == [(0, 2), (2, 2), (4, 1)]
    assert (stats.rows_read, stats.rows_written, stats.source, stats.target) == (5, 10, "s", "t")
    assert len(sink.rows) == 10 and sink.flushes == 1 and len(beats) == 3


def test_held_back_items_are_written_after_the_last_page() -> None:
    job, _ = _job(3)
    sink = FlushCounter()
    stats = run_pages(
        job, {}, lambda page, _: (), writing(sink, sink.write), source="s", target="t", rest=lambda: [{"c": 9}]
    )
    assert (stats.rows_read, stats.rows_written, sink.rows) == (3, 1, [{"c": 9}])


def test_a_failing_page_still_flushes_and_reports_its_own_error() -> None:
    job, _ = _job(3)
    sink = FlushCounter()

    def broken(page: Sequence[Row], offset: int) -> Iterator[Row]:
        raise ValueError("boom")
        yield page[0]

    with pytest.raises(ValueError, match="boom"):
        run_pages(job, {}, broken, writing(sink, sink.write), source="s", target="t")
    assert sink.flushes == 1


def test_each_row_skips_dropped_rows_and_names_the_failing_row_of_the_batch() -> None:
    def build(vars: Vars) -> Value | None:
        c = vars["r"]["c"]
        if c == 3:
            raise RowEvalError("field x: no")
        return None if c == 1 else c

    transform = each_row(build, lambda n: f"t1 row {n}")
    assert list(transform([{"c": 0}, {"c": 1}, {"c": 2}], 0)) == [0, 2]
    with pytest.raises(BatchError, match=r"^t1 row 12: field x: no$"):
        list(transform([{"c": 2}, {"c": 3}], 10))
