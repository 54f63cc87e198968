"""file_table (spec 6.1): batch i reads `r.urls[i]` row by row into the node's table.

Rows stream from the file reader into the RowWriter's bounded window, so memory does not grow with the file.
"""

from __future__ import annotations

import datetime as dt
import decimal
import time
from collections.abc import Mapping

from capillaries_provider.engine.file_reader import iter_file_rows
from capillaries_provider.engine.processors.context import BatchError, BatchJob, BatchStats, writing
from capillaries_provider.engine.processors.rows import RowEvalError, TableRowBuilder
from capillaries_provider.expr.types import FieldType, Value
from capillaries_provider.script.model import DataFormat
from capillaries_provider.storage.errors import RemoteFileError
from capillaries_provider.storage.files import input_source
from capillaries_provider.storage.urls import redact

HEARTBEAT_ROWS = 100

_PY_TYPES: dict[FieldType, type | tuple[type, ...]] = {
    FieldType.INT: int,
    FieldType.FLOAT: float,
    FieldType.DECIMAL2: decimal.Decimal,
    FieldType.STRING: str,
    FieldType.BOOL: bool,
    FieldType.DATETIME: dt.datetime,
}


def _check_parquet_types(row: Mapping[str, Value], declared: Mapping[str, FieldType], url: str) -> None:
    """Parquet types are guessed from the file schema (spec 1.5); a mismatch with `col_type` fails the batch."""
    for name, ft in declared.items():
        v = row[name]
        ok = isinstance(v, _PY_TYPES[ft]) and not (ft is FieldType.INT and isinstance(v, bool))
        if not ok:
            raise BatchError(
                f"{url}: column {name} is declared {ft.value} but the parquet file holds {type(v).__name__} values"
            )


def run_file_table(job: BatchJob) -> BatchStats:
    node, task = job.node, job.task
    reader, creator = node.file_reader, node.table_creator
    assert reader is not None and creator is not None
    if not 0 <= task.first_token < len(reader.urls):
        raise BatchError(
            f"batch {task.batch_idx}: file index {task.first_token} outside r.urls ({len(reader.urls)} urls)"
        )
    url = reader.urls[task.first_token]
    shown = redact(url)
    builder = TableRowBuilder.for_node(job.script, node)
    started = time.monotonic()
    read = written = 0
    check_types = reader.format is DataFormat.PARQUET
    sink = job.data.row_writer(task.ks, creator, task.run_id, task.batch_idx)
    with writing(sink, sink.write) as write:
        try:
            with input_source(url) as source:
                for line, row in iter_file_rows(source, reader, source=shown):
                    if check_types:
                        _check_parquet_types(row, reader.field_types, shown)
                        check_types = False
                    read += 1
                    try:
                        out = builder.build({"r": row})
                    except RowEvalError as e:
                        raise BatchError(f"{shown}, line {line}: {e}") from e
                    if out is not None:
                        write(out)
                        written += 1
                    if read % HEARTBEAT_ROWS == 0:
                        job.heartbeat()
        except RemoteFileError as e:
            raise BatchError(str(e)) from None
        except OSError as e:
            raise BatchError(f"{shown}: cannot read file: {e}") from e
    return BatchStats(shown, creator.name, read, written, time.monotonic() - started)
