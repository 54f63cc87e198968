"""table_file (spec 6.6): the batch's rows of `r.table` -> `w.columns` -> having -> one CSV or Parquet file.

The output goes to a temporary file and becomes the target only when complete (renamed next to a local target,
uploaded atomically to S3 or SFTP), so a failed or interrupted batch never leaves a half-written file under the
final name. With `top`, only `limit` rows are kept
(bounded heap), then written sorted by the order key; without it rows are written in the order read.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from capillaries_provider.engine.csv_writer import CsvFileWriter
from capillaries_provider.engine.parquet_writer import ParquetFileWriter
from capillaries_provider.engine.processors.context import BatchError, BatchJob, BatchStats
from capillaries_provider.engine.processors.rows import FileRowBuilder, RowEvalError, referenced_fields
from capillaries_provider.engine.top import TopByOrder
from capillaries_provider.expr.types import Value
from capillaries_provider.script.model import DataFormat, FileCreator
from capillaries_provider.storage.errors import RemoteFileError
from capillaries_provider.storage.files import output_target
from capillaries_provider.storage.urls import redact

_BATCH_IDX = ("{batch_idx}", "{batch_idx|string}")
_RUN_ID = ("{run_id}", "{run_id|string}")


def output_url(template: str, batch_idx: int, run_id: int) -> str:
    """`url_template` with `{batch_idx}` / `{run_id}` replaced by `%05d` (spec 1.1, 1.8)."""
    for token in _BATCH_IDX:
        template = template.replace(token, f"{batch_idx:05d}")
    for token in _RUN_ID:
        template = template.replace(token, f"{run_id:05d}")
    return template


def _open(path: str, creator: FileCreator) -> CsvFileWriter | ParquetFileWriter:
    if creator.format is DataFormat.PARQUET:
        return ParquetFileWriter.for_creator(path, creator)
    return CsvFileWriter.for_creator(path, creator)


def run_table_file(job: BatchJob) -> BatchStats:
    node, task = job.node, job.task
    reader, creator = node.table_reader, node.file_creator
    assert reader is not None and creator is not None
    url = output_url(creator.url_template, task.batch_idx, task.run_id)
    shown = redact(url)
    builder = FileRowBuilder(creator, {"r": job.script.reader_fields(node)})
    fields = referenced_fields([c.expression for c in creator.columns], "r", job.script.reader_fields(node))
    source = f"{reader.table}_{job.reader_run_id:05d}"
    names = [c.name for c in creator.columns]
    top = TopByOrder(creator.top.order, creator.top.limit) if creator.top is not None else None
    started = time.monotonic()
    read = written = 0
    try:
        with output_target(url) as tmp, _open(str(tmp), creator) as out:
            pages = job.data.read_token_range(
                task.ks, reader.table, job.reader_run_id, fields, task.first_token, task.last_token, reader.rowset_size
            )
            for page in pages:
                for row in page:
                    read += 1
                    try:
                        values = builder.build({"r": row})
                    except RowEvalError as e:
                        raise BatchError(f"{source} row {read} of the batch -> {shown}: {e}") from e
                    if values is None:
                        continue
                    ordered: Sequence[Value] = [values[n] for n in names]
                    if top is not None:
                        top.add(values, ordered)
                    else:
                        out.write_row(ordered)
                        written += 1
                job.heartbeat()
            if top is not None:
                for ordered in top.sorted_rows():
                    out.write_row(ordered)
                    written += 1
    except RemoteFileError as e:
        raise BatchError(str(e)) from None
    except OSError as e:
        raise BatchError(f"{shown}: cannot write file: {e}") from e
    return BatchStats(source, shown, read, written, time.monotonic() - started)
