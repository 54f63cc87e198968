"""table_file (spec 6.6): the batch's rows of `r.table` -> `w.columns` -> having -> one CSV or Parquet file.

The output goes to a temporary file and becomes the target only when complete (renamed next to a local target,
uploaded atomically to S3 or SFTP), so a failed or interrupted batch never leaves a half-written file under the
final name. With `top`, only `limit` rows are kept
(bounded heap), then written sorted by the order key; without it rows are written in the order read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

from capillaries_provider.engine.csv_writer import CsvFileWriter
from capillaries_provider.engine.parquet_writer import ParquetFileWriter
from capillaries_provider.engine.processors.context import BatchError, BatchJob, BatchStats
from capillaries_provider.engine.processors.rows import FileRowBuilder, referenced_fields
from capillaries_provider.engine.processors.skeleton import each_row, run_pages
from capillaries_provider.engine.top import TopByOrder
from capillaries_provider.expr import Vars
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


@contextlib.contextmanager
def _file(url: str, creator: FileCreator) -> Iterator[Callable[[Sequence[Value]], object]]:
    """The file's `write_row`; the temp file becomes `url` only when everything was written."""
    with output_target(url) as tmp, _open(str(tmp), creator) as out:
        yield out.write_row


def run_table_file(job: BatchJob) -> BatchStats:
    node, task = job.node, job.task
    reader, creator = node.table_reader, node.file_creator
    assert reader is not None and creator is not None
    url = output_url(creator.url_template, task.batch_idx, task.run_id)
    shown = redact(url)
    build = FileRowBuilder(creator, {"r": job.script.reader_fields(node)}).build
    fields = referenced_fields([c.expression for c in creator.columns], "r", job.script.reader_fields(node))
    source = f"{reader.table}_{job.reader_run_id:05d}"
    names = [c.name for c in creator.columns]
    top = TopByOrder(creator.top.order, creator.top.limit) if creator.top is not None else None

    def columns(vars: Vars) -> Sequence[Value] | None:
        """The row's values in column order, or None when `having` drops it or `top` holds it back."""
        values = build(vars)
        if values is None:
            return None
        ordered = [values[n] for n in names]
        if top is None:
            return ordered
        top.add(values, ordered)
        return None

    try:
        return run_pages(
            job,
            fields,
            each_row(columns, lambda n: f"{source} row {n} of the batch -> {shown}"),
            _file(url, creator),
            source=source,
            target=shown,
            rest=None if top is None else top.sorted_rows,
        )
    except RemoteFileError as e:
        raise BatchError(str(e)) from None
    except OSError as e:
        raise BatchError(f"{shown}: cannot write file: {e}") from e
