"""table_table (spec 6.2): every row of the batch's token range of `r.table` -> `w.fields` -> having -> insert.

The source is read `rowset_size` rows per page and only the fields the expressions use are selected.
"""

from __future__ import annotations

import time

from capillaries_provider.engine.processors.context import BatchError, BatchJob, BatchStats, writing
from capillaries_provider.engine.processors.rows import RowEvalError, TableRowBuilder, referenced_fields
from capillaries_provider.expr.types import FieldType


def reader_fields_for_creator(job: BatchJob) -> dict[str, FieldType]:
    """The `r.*` fields the node's table creator reads."""
    creator = job.node.table_creator
    assert creator is not None
    exprs = [f.expression for f in creator.fields.values()]
    return referenced_fields(exprs, "r", job.script.reader_fields(job.node))


def run_table_table(job: BatchJob) -> BatchStats:
    node, task = job.node, job.task
    reader, creator = node.table_reader, node.table_creator
    assert reader is not None and creator is not None
    builder = TableRowBuilder.for_node(job.script, node)
    fields = reader_fields_for_creator(job)
    source = f"{reader.table}_{job.reader_run_id:05d}"
    started = time.monotonic()
    read = written = 0
    pages = job.data.read_token_range(
        task.ks, reader.table, job.reader_run_id, fields, task.first_token, task.last_token, reader.rowset_size
    )
    with writing(job.data.row_writer(task.ks, creator, task.run_id, task.batch_idx)) as sink:
        for page in pages:
            for row in page:
                read += 1
                try:
                    out = builder.build({"r": row})
                except RowEvalError as e:
                    raise BatchError(f"{source} row {read} of the batch: {e}") from e
                if out is not None:
                    sink.write(out)
                    written += 1
            job.heartbeat()
    return BatchStats(source, creator.name, read, written, time.monotonic() - started)
