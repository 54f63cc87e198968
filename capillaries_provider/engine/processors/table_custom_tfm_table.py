"""table_custom_tfm_table (spec 6.5): a custom processor turns each page of rows into `{r, p}` var maps, then
`w.fields` / `having` / insert as in table_table.

py_calc (spec 7.1) computes `p.*` in a child Python process of this worker's pool, one request per page, each row
bounded by `execution_timeout`; tag_and_denormalize (spec 7.2) emits one var map per matching tag; an installed
third-party type (script/plugins.py) emits whatever its `process` yields.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from capillaries_provider.engine.processors.context import BatchError, BatchJob, BatchStats, writing
from capillaries_provider.engine.processors.rows import RowEvalError, TableRowBuilder, referenced_fields
from capillaries_provider.engine.processors.skeleton import PageTransform, Row, run_pages
from capillaries_provider.engine.pycalc import (
    PyCalcError,
    PyCalcProgram,
    PyCalcSettings,
    default_row_label,
    key_fields_label,
    load_python_code,
    shared_pool,
)
from capillaries_provider.engine.tagging import Tagger, TaggingError
from capillaries_provider.expr.types import FieldType, Value
from capillaries_provider.script.fetch import default_fetcher
from capillaries_provider.script.model import (
    Expression,
    Node,
    PluginProcessorDef,
    PyCalcDef,
    Script,
    TagAndDenormalizeDef,
)

Vars = Mapping[str, Mapping[str, Value]]


@functools.lru_cache(maxsize=1)
def pycalc_settings() -> PyCalcSettings:
    """py_calc settings of this worker process, read once from the environment."""
    return PyCalcSettings.from_env()


def _reader_fields(script: Script, node: Node, extra: Iterable[Expression]) -> dict[str, FieldType]:
    """`r.*` fields used by the target fields and by the custom processor's own expressions."""
    assert node.table_creator is not None
    exprs = [f.expression for f in node.table_creator.fields.values()] + list(extra)
    return referenced_fields(exprs, "r", script.reader_fields(node))


def _py_calc(script: Script, node: Node, proc: PyCalcDef) -> tuple[dict[str, FieldType], PageTransform[Vars]]:
    fields = _reader_fields(script, node, [f.expression for f in proc.calculated_fields.values()])
    code = load_python_code(proc.python_code_urls, default_fetcher())
    program = PyCalcProgram.build(node.name, proc, code, fields)
    label = _row_label(node, fields)
    pool = shared_pool(pycalc_settings())

    def transform(page: Sequence[Row], offset: int) -> Iterator[Vars]:
        for row, p in zip(page, program.calculate(pool, page, row_label=label, row_offset=offset), strict=True):
            yield {"r": row, "p": p}

    return fields, transform


def _row_label(node: Node, fields: Mapping[str, FieldType]) -> Callable[[Row], str]:
    """Name failing rows by the node's unique-index fields when the source has them, else by their first fields."""
    assert node.table_creator is not None
    for idx in node.table_creator.indexes.values():
        names = [c.field for c in idx.components]
        if idx.unique and all(n in fields for n in names):
            return key_fields_label(names)
    return default_row_label


def _tag_and_denormalize(script: Script, node: Node) -> tuple[dict[str, FieldType], PageTransform[Vars]]:
    tagger = Tagger.for_node(script, node, default_fetcher())
    assert node.table_creator is not None
    fields = _reader_fields(script, node, [])
    fields.update(tagger.reader_fields)

    def transform(page: Sequence[Row], offset: int) -> Iterator[Vars]:
        for row in page:
            yield from tagger.denormalize(row)

    return fields, transform


def _plugin(script: Script, node: Node, proc: PluginProcessorDef) -> tuple[dict[str, FieldType], PageTransform[Vars]]:
    """A third-party processor (script/plugins.py); whatever it raises fails the batch, naming node and type."""
    available = script.reader_fields(node)
    fields = _reader_fields(script, node, [])
    fields.update({f: available[f] for f in proc.settings.reader_fields})

    def transform(page: Sequence[Row], offset: int) -> Iterator[Vars]:
        try:
            for row, p in proc.plugin.process(proc.settings, page):
                yield {"r": row, "p": p}
        except Exception as e:
            raise BatchError(f"node {node.name}: custom processor {proc.proc_type}: {type(e).__name__}: {e}") from e

    return fields, transform


def run_table_custom_tfm_table(job: BatchJob) -> BatchStats:
    node, task = job.node, job.task
    reader, creator, proc = node.table_reader, node.table_creator, node.custom_processor
    assert reader is not None and creator is not None
    source = f"{reader.table}_{job.reader_run_id:05d}"
    try:
        if isinstance(proc, PyCalcDef):
            fields, transform = _py_calc(job.script, node, proc)
        elif isinstance(proc, TagAndDenormalizeDef):
            fields, transform = _tag_and_denormalize(job.script, node)
        elif isinstance(proc, PluginProcessorDef):
            fields, transform = _plugin(job.script, node, proc)
        else:
            raise BatchError(f"node {node.name}: unknown custom processor {node.custom_proc_type!r}")
    except (PyCalcError, TaggingError) as e:
        raise BatchError(str(e)) from e
    build = TableRowBuilder.for_node(job.script, node).build

    def rows(page: Sequence[Row], offset: int) -> Iterator[dict[str, Value]]:
        for vars in transform(page, offset):
            out = build(vars)
            if out is not None:
                yield out

    sink = job.data.row_writer(task.ks, creator, task.run_id, task.batch_idx)
    try:
        return run_pages(job, fields, rows, writing(sink, sink.write), source=source, target=creator.name)
    except (PyCalcError, TaggingError) as e:
        raise BatchError(f"{source}: {e}") from e
    except RowEvalError as e:
        raise BatchError(f"{source}: node {node.name}: {e}") from e
