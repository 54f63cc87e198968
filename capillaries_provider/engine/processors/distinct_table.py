"""distinct_table (spec 6.3): write one row per unique-index key; the store's unique-key claims pick the winner.

The data store must offer `distinct_writer()` (engine/distinct.py `DistinctStore`): claiming a unique key needs
a conditional insert, which plain row writers do not do.
"""

from __future__ import annotations

import contextlib
import time

from capillaries_provider.engine.distinct import DistinctError, DistinctStore, DistinctWriter
from capillaries_provider.engine.processors.context import BatchError, BatchJob, BatchStats
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
        writer = DistinctWriter.for_node(job.script, node)
    except DistinctError as e:
        raise BatchError(str(e)) from e
    fields = reader_fields_for_creator(job)
    started = time.monotonic()
    read = written = 0
    pages = job.data.read_token_range(
        task.ks, reader.table, job.reader_run_id, fields, task.first_token, task.last_token, reader.rowset_size
    )
    sink = job.data.distinct_writer(task.ks, creator, task.run_id, task.batch_idx)
    try:
        for page in pages:
            result = writer.run_page(page, sink)
            read += result.read
            written += result.written
            job.heartbeat()
    except DistinctError as e:
        with contextlib.suppress(Exception):
            sink.flush()
        raise BatchError(f"{source}: {e}") from e
    except BaseException:
        with contextlib.suppress(Exception):
            sink.flush()
        raise
    sink.flush()
    return BatchStats(source, creator.name, read, written, time.monotonic() - started)
