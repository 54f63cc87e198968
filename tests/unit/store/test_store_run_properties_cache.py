"""RunPropertiesCache: each run's properties row is read once per process; a missing row is asked for again."""

from __future__ import annotations

from collections.abc import Sequence

from capillaries_provider.store.workflow import RunProperties, RunPropertiesCache


def props(run_id: int, *affected: str) -> RunProperties:
    return RunProperties(run_id, affected[:1], affected, "s.json", "", f"run {run_id}")


class Table:
    """wf_run_counter and wf_run_properties of one keyspace, recording which run ids each read asked for."""

    def __init__(self) -> None:
        self.last_run = 0
        self.rows: dict[int, RunProperties] = {}
        self.reads: list[list[int]] = []

    def read_last_run(self) -> int:
        return self.last_run

    def read_rows(self, run_ids: Sequence[int]) -> list[RunProperties]:
        self.reads.append(list(run_ids))
        return [self.rows[r] for r in run_ids if r in self.rows]

    def start(self, *affected: str) -> int:
        self.last_run += 1
        self.rows[self.last_run] = props(self.last_run, *affected)
        return self.last_run


def test_rows_are_read_once_and_new_runs_only_when_the_counter_moves() -> None:
    table = Table()
    cache = RunPropertiesCache(table.read_last_run, table.read_rows)
    assert cache.all() == []
    assert table.reads == []
    table.start("a")
    table.start("a", "b")
    assert cache.all() == [props(1, "a"), props(2, "a", "b")]
    assert cache.all() == [props(1, "a"), props(2, "a", "b")]
    table.start("b")
    assert [p.run_id for p in cache.all()] == [1, 2, 3]
    assert table.reads == [[1, 2], [3]]


def test_a_run_without_its_properties_row_yet_is_not_cached_as_absent() -> None:
    table = Table()
    cache = RunPropertiesCache(table.read_last_run, table.read_rows)
    table.start("a")
    table.last_run = 2  # run 2 took its id, its starter has not written the properties yet
    assert cache.all() == [props(1, "a")]
    assert cache.all() == [props(1, "a")]
    table.rows[2] = props(2, "a")
    assert cache.all() == [props(1, "a"), props(2, "a")]
    assert table.reads == [[1, 2], [2], [2]]
    assert cache.all() == [props(1, "a"), props(2, "a")]
    assert table.reads == [[1, 2], [2], [2]]


def test_a_skipped_run_id_is_left_out_like_a_full_read_would() -> None:
    table = Table()
    cache = RunPropertiesCache(table.read_last_run, table.read_rows)
    table.start("a")
    table.last_run = 3  # id 2 was lost to an ambiguous counter update; run 3 exists
    table.rows[3] = props(3, "a")
    assert [p.run_id for p in cache.all()] == [1, 3]
