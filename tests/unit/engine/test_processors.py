"""file_table / table_table / table_file processors over the in-memory data store and real temp files."""

from __future__ import annotations

import decimal
import enum
from pathlib import Path
from typing import Any

import pytest
from batch_fakes import KS, FakeBackend, FakeSink, int_fields, make_script

from capillaries_provider.engine.processors.context import BatchError, BatchJob
from capillaries_provider.engine.processors.registry import processor_for
from capillaries_provider.engine.processors.table_file import output_url
from capillaries_provider.engine.run import node_tasks
from capillaries_provider.script.model import NodeType, Script


def _col(name: str, ftype: str, header: str, fmt: str) -> dict[str, Any]:
    return {"name": name, "type": ftype, "expression": f"r.{name}", "csv": {"header": header, "format": fmt}}


def script(tmp: Path) -> Script:
    columns = {
        "id": {"col_type": "int", "csv": {"col_hdr": "id", "col_format": "%d"}},
        "amt": {"col_type": "decimal2", "csv": {"col_hdr": "amount"}},
        "name": {"col_type": "string", "csv": {"col_hdr": "name"}},
    }
    fields = {
        "id": {"expression": "r.id", "type": "int"},
        "amt": {"expression": "r.amt * decimal2(1.5)", "type": "decimal2"},
        "label": {"expression": 'r.name + "!"', "type": "string"},
    }
    return make_script(
        {
            "read": {
                "type": "file_table",
                "r": {
                    "urls": [f"{tmp}/in.csv"],
                    "csv": {"hdr_line_idx": 0, "first_data_line_idx": 1},
                    "columns": columns,
                },
                "w": {"name": "t1", "having": "w.amt > 0", "fields": fields},
            },
            "calc": {
                "type": "table_table",
                "r": {"table": "t1", "rowset_size": 2},
                "w": {"name": "t2", "fields": int_fields(id="r.id", neg="-r.id / 2")},
            },
            "out": {
                "type": "table_file",
                "r": {"table": "t1"},
                "w": {
                    "url_template": f"{tmp}/out/o_{{batch_idx}}.csv",
                    "having": "w.id != 2",
                    "top": {"order": "amt(desc), id"},
                    "columns": [
                        _col("id", "int", "id", "%05d"),
                        _col("amt", "decimal2", "amount,x", "%s"),
                        _col("label", "string", "label", "%s"),
                    ],
                },
            },
        }
    )


def job(s: Script, be: FakeBackend, node: str, reader_run_id: int = 0) -> BatchJob:
    t = node_tasks(s, node, ks=KS, run_id=1, script_url="s.json", script_params_url="")[0]
    return BatchJob(task=t, script=s, node=s.nodes[node], data=be, reader_run_id=reader_run_id)


def test_file_table_evaluates_fields_having_with_rounding(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("id,amount,name\n1,2.01,a\n2,-1,b\n3,0.33,c\n")
    s, be = script(tmp_path), FakeBackend({1: ("read",)})
    stats = processor_for(NodeType.FILE_TABLE)(job(s, be, "read"))
    assert (stats.rows_read, stats.rows_written) == (3, 2)
    D = decimal.Decimal
    # round-dec-2 context: 2.01 * 1.5 = 3.015 -> 3.02 (half away from zero); 0.33 * 1.5 = 0.495 -> 0.50
    assert be.tables["t1_00001"].rows == [
        {"id": 1, "amt": D("3.02"), "label": "a!"},
        {"id": 3, "amt": D("0.50"), "label": "c!"},
    ]


def test_file_table_error_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("id,amount,name\n1,2.01,a\nx,1,b\n")
    s, be = script(tmp_path), FakeBackend({1: ("read",)})
    with pytest.raises(Exception, match=r"in\.csv, line 3, column id"):
        processor_for(NodeType.FILE_TABLE)(job(s, be, "read"))


def test_table_table_reads_pages_and_uses_go_int_division(tmp_path: Path) -> None:
    s, be = script(tmp_path), FakeBackend({1: ("calc",)})
    be.tables["t1_00007"] = FakeSink([{"id": i, "amt": decimal.Decimal(1), "label": ""} for i in (1, 7, -7)])
    stats = processor_for(NodeType.TABLE_TABLE)(job(s, be, "calc", reader_run_id=7))
    assert (stats.rows_read, stats.rows_written, stats.source) == (3, 3, "t1_00007")
    # Go: -1/2 == 0, -7/2 == -3, 7/2 == 3 (truncation toward zero)
    assert [r["neg"] for r in be.tables["t2_00001"].rows] == [0, -3, 3]


def test_table_file_writes_top_sorted_csv_and_no_temp_file(tmp_path: Path) -> None:
    s, be = script(tmp_path), FakeBackend({1: ("out",)})
    D = decimal.Decimal
    be.tables["t1_00001"] = FakeSink(
        [
            {"id": 1, "amt": D("3.02"), "label": "a"},
            {"id": 2, "amt": D("9.00"), "label": "b"},
            {"id": 3, "amt": D("0.5"), "label": "c,d"},
            {"id": 4, "amt": D("3.02"), "label": "e"},
        ]
    )
    stats = processor_for(NodeType.TABLE_FILE)(job(s, be, "out", reader_run_id=1))
    assert (stats.rows_read, stats.rows_written) == (4, 3)
    out = tmp_path / "out" / "o_00000.csv"
    # header CRLF, rows LF; comma-quoting without escaping; amt desc then id asc
    assert out.read_bytes() == b'id,"amount,x",label\r\n00001,3.02,a\n00004,3.02,e\n00003,0.50,"c,d"\n'
    assert [p.name for p in out.parent.iterdir()] == ["o_00000.csv"]


def test_table_file_failure_leaves_no_partial_file(tmp_path: Path) -> None:
    s, be = script(tmp_path), FakeBackend({1: ("out",)})
    # The second row lacks `label`: the column expression fails after the header was written.
    be.tables["t1_00001"] = FakeSink(
        [{"id": 1, "amt": decimal.Decimal(1), "label": "a"}, {"id": 3, "amt": decimal.Decimal(1)}]
    )
    with pytest.raises(BatchError, match=r"t1_00001 row 2 of the batch -> .*o_00000.csv: column label"):
        processor_for(NodeType.TABLE_FILE)(job(s, be, "out", reader_run_id=1))
    assert list((tmp_path / "out").iterdir()) == []


def test_output_url_replaces_batch_idx_and_run_id() -> None:
    assert output_url("/o/x_{batch_idx}.csv", 7, 3) == "/o/x_00007.csv"
    assert output_url("/o/x_{batch_idx|string}_{run_id|string}.csv", 12, 3) == "/o/x_00012_00003.csv"


def test_processors_of_other_node_types_are_found_by_module_convention() -> None:
    found = processor_for(NodeType.DISTINCT_TABLE)
    assert (found.__module__, found.__name__) == (
        "capillaries_provider.engine.processors.distinct_table",
        "run_distinct_table",
    )


class _Unknown(enum.Enum):
    TYPE = "no_such_type"


def test_node_type_without_processor_module_has_a_readable_error() -> None:
    with pytest.raises(KeyError, match="no processor is installed for node type no_such_type"):
        processor_for(_Unknown.TYPE)  # type: ignore[arg-type]


def test_batch_error_is_raised_for_url_outside_reader(tmp_path: Path) -> None:
    s, be = script(tmp_path), FakeBackend({1: ("read",)})
    j = job(s, be, "read")
    bad = BatchJob(
        task=type(j.task)(**{**j.task.__dict__, "first_token": 5, "last_token": 5}),
        script=s,
        node=j.node,
        data=be,
    )
    with pytest.raises(BatchError, match="file index 5 outside r.urls"):
        processor_for(NodeType.FILE_TABLE)(bad)
