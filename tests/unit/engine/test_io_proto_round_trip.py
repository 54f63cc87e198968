"""proto_file_reader_creator_quicktest without Cassandra: the loaded scripts' reader and creator models drive
file reader -> (table fields) -> top -> file writer, and the output is checked with the case's compare mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from capillaries_provider.engine import compare
from capillaries_provider.engine.csv_writer import CsvFileWriter
from capillaries_provider.engine.file_reader import iter_file_rows
from capillaries_provider.engine.parquet_writer import ParquetFileWriter
from capillaries_provider.engine.top import TopByOrder
from capillaries_provider.expr.types import Value
from capillaries_provider.script.loader import load_script
from capillaries_provider.script.model import DataFormat, Expression
from tests.conftest import CONFORMANCE, needs_shared

CASE = CONFORMANCE / "proto_file_reader_creator_quicktest"
INPUTS = CASE / "test/data/in/proto_file_reader_creator"

pytestmark = needs_shared(CASE)


def field_of(expression: Expression) -> str:
    """These scripts only copy fields (`r.<name>`); anything else would need the expression compiler."""
    assert expression.text.startswith("r.") and expression.text[2:].isidentifier(), expression.text
    return expression.text[2:]


@pytest.mark.parametrize("variant", ["csv", "parquet"])
def test_round_trip_reproduces_input(variant: str, tmp_path: Path) -> None:
    case = json.loads((CASE / "case.json").read_text())
    (output,) = [o for o in case["outputs"] if o["produced"].endswith(f"products.{variant}")]
    script = load_script(str(CASE / f"generated/script_{variant}.json"))
    reader = script.nodes["read_file"].file_reader
    table = script.nodes["read_file"].table_creator
    creator = script.nodes["write_file"].file_creator
    assert reader is not None and table is not None and creator is not None and creator.top is not None
    source = INPUTS / f"products.{variant}"

    top = TopByOrder(creator.top.order, creator.top.limit)
    for _, r in iter_file_rows(source, reader):
        row = {name: r[field_of(f.expression)] for name, f in table.fields.items()}
        columns: dict[str, Value] = {c.name: row[field_of(c.expression)] for c in creator.columns}
        top.add(columns, [columns[c.name] for c in creator.columns])
    assert len(top) == 48

    out = tmp_path / f"products.{variant}"
    writer: CsvFileWriter | ParquetFileWriter
    if creator.format is DataFormat.CSV:
        writer = CsvFileWriter.for_creator(out, creator)
    else:
        writer = ParquetFileWriter.for_creator(out, creator)
    with writer:
        for values in top.sorted_rows():
            writer.write_row(values)

    result = getattr(compare, output["compare"])(out, source)
    assert result.ok, result.message
