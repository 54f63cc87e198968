"""distinct_table (spec 6.3): write one row per unique-index key; the store's unique-key claims pick the winner.

The data store must offer `distinct_writer()` (engine/distinct.py `DistinctStore`): claiming a unique key needs
a conditional insert, which plain row writers do not do.
"""

from __future__ import annotations

from capillaries_provider.engine.distinct import DistinctError, DistinctStore, DistinctWriter
from capillaries_provider.engine.processors.context import BatchError, BatchJob, BatchStats, writing
from capillaries_provider.engine.processors.skeleton import run_pages
from capillaries_provider.engine.processors.table_table import reader_fields_for_creator


def run_distinct_table(job: BatchJob) -> BatchStats:
    node, task = job.node, job.task
    reader, creator = node.table_reader, node.table_creator
    assert reader is not None and creator is not None
    if not isinstance(job.data, DistinctStore):
        raise BatchError(
            f"node {node.name}: this data store cannot write distinct tables (it has no distinct_writer())"
        )
    source = f"{reader.table}_{job.reader_run_id:05d}"
    try:
        distinct = DistinctWriter.for_node(job.script, node)
    except DistinctError as e:
        raise BatchError(str(e)) from e
    sink = job.data.distinct_writer(task.ks, creator, task.run_id, task.batch_idx)
    try:
        return run_pages(
            job,
            reader_fields_for_creator(job),
            lambda page, _: distinct.owned_rows(page, sink),
            writing(sink, lambda owned: sink.write(*owned)),
            source=source,
            target=creator.name,
        )
    except DistinctError as e:
        raise BatchError(f"{source}: {e}") from e
