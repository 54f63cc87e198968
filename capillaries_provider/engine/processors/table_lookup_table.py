"""table_lookup_table (spec 6.4): read the batch's left rows page by page and join each page through the index.

The join itself lives in engine/lookup.py; this module binds it to the data store: the index and the right table
of the run chosen by the dependency check (`lookup_run_id`), reads batched per page of left rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from capillaries_provider.engine.lookup import LookupJoin, LookupJoinError
from capillaries_provider.engine.ports import DataStore
from capillaries_provider.engine.processors.context import BatchError, BatchJob, BatchStats, writing
from capillaries_provider.engine.processors.skeleton import run_pages
from capillaries_provider.expr.types import FieldType, Value


class StoreLookupReads:
    """`LookupReads` over a DataStore: one index and its table, in one run, selecting only the used fields."""

    def __init__(
        self, data: DataStore, ks: str, index: str, table: str, run_id: int, fields: Mapping[str, FieldType]
    ) -> None:
        self._data = data
        self._ks = ks
        self._index = index
        self._table = table
        self._run_id = run_id
        self._fields = fields

    def index_rowids(self, keys: Sequence[str]) -> Mapping[str, Sequence[int]]:
        return self._data.read_index_rowids(self._ks, self._index, self._run_id, keys)

    def right_rows(self, rowids: Sequence[int]) -> dict[int, Mapping[str, Value]]:
        return dict(self._data.read_rows_by_rowid(self._ks, self._table, self._run_id, self._fields, rowids))


def run_table_lookup_table(job: BatchJob) -> BatchStats:
    node, task = job.node, job.task
    reader, creator, lookup = node.table_reader, node.table_creator, node.lookup
    assert reader is not None and creator is not None and lookup is not None
    right_table = job.script.lookup_table(node)
    assert right_table is not None
    join = LookupJoin.for_node(job.script, node)
    reads = StoreLookupReads(job.data, task.ks, lookup.index_name, right_table, job.lookup_run_id, join.right_fields)
    source = f"{reader.table}_{job.reader_run_id:05d} + {right_table}_{job.lookup_run_id:05d}"
    sink = job.data.row_writer(task.ks, creator, task.run_id, task.batch_idx)
    try:
        return run_pages(
            job,
            join.left_fields,
            lambda page, _: join.join_page(page, reads),
            writing(sink, sink.write),
            source=source,
            target=creator.name,
        )
    except LookupJoinError as e:
        raise BatchError(f"{source}: {e}") from e
