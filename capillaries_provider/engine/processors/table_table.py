"""table_table (spec 6.2): every row of the batch's token range of `r.table` -> `w.fields` -> having -> insert.

The source is read `rowset_size` rows per page and only the fields the expressions use are selected.
"""

from __future__ import annotations

from capillaries_provider.engine.processors.context import BatchJob, BatchStats, writing
from capillaries_provider.engine.processors.rows import TableRowBuilder, referenced_fields
from capillaries_provider.engine.processors.skeleton import each_row, run_pages
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
    source = f"{reader.table}_{job.reader_run_id:05d}"
    sink = job.data.row_writer(task.ks, creator, task.run_id, task.batch_idx)
    return run_pages(
        job,
        reader_fields_for_creator(job),
        each_row(TableRowBuilder.for_node(job.script, node).build, lambda n: f"{source} row {n} of the batch"),
        writing(sink, sink.write),
        source=source,
        target=creator.name,
    )
