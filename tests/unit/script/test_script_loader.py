"""Loader behaviour: Go JSON decoding rules, YAML, defaults, model contents, fetching."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from capillaries_provider.expr.types import FieldType
from capillaries_provider.script.errors import Problem, ScriptFetchError, ScriptValidationError
from capillaries_provider.script.fetch import SchemeFetcher
from capillaries_provider.script.loader import load_script, load_script_text
from capillaries_provider.script.model import (
    DataFormat,
    DependencyCmd,
    JoinType,
    NodeType,
    PyCalcDef,
    RerunPolicy,
    StartPolicy,
    TagAndDenormalizeDef,
)

DATA = Path(__file__).parent / "data"
BASE: dict[str, Any] = json.loads((DATA / "valid_small.json").read_text())
PARAMS = {"dir_in": "/in", "dir_out": "/out"}


def _load(doc: dict[str, Any], params: dict[str, object] | None = None, fmt: str = "json") -> Any:
    text = json.dumps(doc) if fmt == "json" else yaml.safe_dump(doc)
    return load_script_text(text, fmt=fmt, params=PARAMS if params is None else params)


def _base() -> dict[str, Any]:
    return copy.deepcopy(BASE)


def test_small_valid_script_model() -> None:
    s = load_script(str(DATA / "valid_small.json"), str(DATA / "valid_small_params.json"))
    assert list(s.nodes) == ["read_orders", "read_items", "order_totals", "distinct_names", "file_totals"]
    ro = s.nodes["read_orders"]
    assert ro.type is NodeType.FILE_TABLE and ro.file_reader is not None
    assert ro.file_reader.urls == ("/data/in/orders.csv",)
    assert ro.file_reader.format is DataFormat.CSV and ro.file_reader.csv_by_header
    assert ro.file_reader.csv.separator == "," and ro.file_reader.csv.first_data_line_idx == 1
    assert ro.max_batch_processing_time_ms == 60000 and ro.start_policy is StartPolicy.AUTO
    assert ro.handler_exe_type == "capi_daemon" and ro.dependency_policy == "std"
    ot = s.nodes["order_totals"]
    assert ot.lookup is not None and ot.lookup.join_type is JoinType.LEFT and ot.lookup.group
    assert ot.lookup.join_on == ("id",) and ot.lookup.idx_read_batch_size == 3000
    assert ot.table_reader is not None and ot.table_reader.expected_batches_total == 4
    assert ot.table_reader.rowset_size == 1000
    assert s.lookup_table(ot) == "items"
    assert s.lookup_fields(ot) == {"order_id": FieldType.INT, "price": FieldType.FLOAT}
    assert s.reader_fields(ot)["amount"] is FieldType.DECIMAL2
    assert s.nodes["distinct_names"].rerun_policy is RerunPolicy.FAIL
    fc = s.nodes["file_totals"].file_creator
    assert fc is not None and fc.url_template == "/data/out/totals_{batch_idx|string}.csv"
    assert fc.format is DataFormat.CSV and fc.csv_separator == ","
    assert [c.name for c in fc.columns] == ["id", "total"]
    pol = s.default_policy
    assert pol.name == "std" and [r.cmd for r in pol.rules] == [DependencyCmd.GO, DependencyCmd.NOGO]
    assert [c.desc for c in pol.event_priority_order] == [True, True]


def test_keys_match_case_insensitively_last_wins_unknown_ignored() -> None:
    doc = _base()
    node = doc["nodes"]["order_totals"]
    node["R"] = node.pop("r")
    node["R"].pop("expected_batches_total")
    node["R"]["expected_batches_total"] = 7
    node["R"]["Expected_Batches_Total"] = 8  # the later matching key wins, whatever its case
    node["having_tmp"] = "ignored"
    node["w"]["no_such_key"] = {"x": 1}
    s = _load(doc)
    assert s.nodes["order_totals"].table_reader.expected_batches_total == 8


def test_null_means_absent() -> None:
    doc = _base()
    doc["nodes"]["read_orders"]["w"]["having"] = None
    doc["nodes"]["read_orders"]["desc"] = None
    s = _load(doc)
    assert s.nodes["read_orders"].table_creator.having is None
    assert s.nodes["read_orders"].desc == ""


def test_float_is_not_an_int_in_json_but_integral_float_is_in_yaml() -> None:
    doc = _base()
    doc["nodes"]["order_totals"]["r"]["expected_batches_total"] = 4.0
    with pytest.raises(ScriptValidationError, match="expected integer, got number 4.0"):
        _load(doc)
    # YAML goes through Go's YAML->JSON round trip, where 4.0 is written as 4
    assert _load(doc, fmt="yaml").nodes["order_totals"].table_reader.expected_batches_total == 4


def test_yaml_script_with_yaml_1_1_lookalikes_stays_strings() -> None:
    doc = _base()
    doc["nodes"]["read_orders"]["desc"] = "PLACEHOLDER"
    text = yaml.safe_dump(doc).replace("PLACEHOLDER", "yes")
    s = load_script_text(text, fmt="yaml", params=PARAMS)
    assert s.nodes["read_orders"].desc == "yes"


def test_number_param_fills_an_int_key() -> None:
    doc = _base()
    doc["nodes"]["order_totals"]["r"]["expected_batches_total"] = "{n|number}"
    s = _load(doc, {**PARAMS, "n": 12})
    assert s.nodes["order_totals"].table_reader.expected_batches_total == 12


def test_stringlist_param_fills_urls() -> None:
    doc = _base()
    doc["nodes"]["read_orders"]["r"]["urls"] = "{urls|stringlist}"
    s = _load(doc, {**PARAMS, "urls": ["/a.csv", "/b.csv"]})
    assert s.nodes["read_orders"].file_reader.urls == ("/a.csv", "/b.csv")


def test_default_values_are_typed() -> None:
    doc = _base()
    f = doc["nodes"]["order_totals"]["w"]["fields"]
    f["item_count"]["default_value"] = " 42 "
    f["total"]["default_value"] = "1.5"
    f["when"] = {"expression": "time.Now()", "type": "datetime", "default_value": "2001-02-03T04:05:06.789-07:00"}
    f["amt"] = {"expression": "r.amount", "type": "decimal2", "default_value": "1.005"}
    fields = _load(doc).nodes["order_totals"].table_creator.fields
    assert fields["item_count"].default_value == 42
    assert fields["total"].default_value == 1.5
    when = fields["when"].default_value
    assert isinstance(when, dt.datetime)
    assert when == dt.datetime(2001, 2, 3, 11, 5, 6, 789000, tzinfo=dt.UTC)
    # decimal2 default: round(f*100) on float64 -> 1.00 (1.005*100 = 100.49999...)
    assert fields["amt"].default_value == Decimal("1.00")
    assert fields["id"].default_value == 0


def test_parquet_reader_and_writer() -> None:
    doc = _base()
    cols = doc["nodes"]["read_items"]["r"]["columns"]
    for name, c in cols.items():
        c.pop("csv")
        c["parquet"] = {"col_name": name.upper()}
    w = doc["nodes"]["file_totals"]["w"]
    for c in w["columns"]:
        c.pop("csv")
        c["parquet"] = {"column_name": c["name"]}
    s = _load(doc)
    assert s.nodes["read_items"].file_reader.format is DataFormat.PARQUET
    assert s.nodes["read_items"].file_reader.columns["col_price"].parquet_col_name == "COL_PRICE"
    fc = s.nodes["file_totals"].file_creator
    assert fc.format is DataFormat.PARQUET and fc.parquet_codec == "gzip"


def test_single_column_without_settings_is_csv() -> None:
    doc = _base()
    doc["nodes"]["read_items"]["r"]["columns"] = {"col_order_id": {"col_type": "int"}}
    doc["nodes"]["read_items"]["w"]["fields"]["price"]["expression"] = "float(r.col_order_id)"
    s = _load(doc)
    reader = s.nodes["read_items"].file_reader
    assert reader.format is DataFormat.CSV and not reader.csv_by_header


def test_py_calc_definition_and_calc_order() -> None:
    doc = _base()
    doc["nodes"]["calc"] = {
        "type": "table_custom_tfm_table",
        "custom_proc_type": "py_calc",
        "r": {"table": "orders"},
        "p": {
            "python_code_urls": ["{dir_in}/a.py"],
            "calculated_fields": {
                "c": {"expression": "f(p.b, p.a)", "type": "float"},
                "b": {"expression": 'g(p.a, SomeClass, "x", 1)', "type": "string"},
                "a": {"expression": "r.amount", "type": "decimal2"},
            },
        },
        "w": {"name": "calc", "fields": {"c": {"expression": "p.c * 2.0", "type": "float"}}},
    }
    proc = _load(doc).nodes["calc"].custom_processor
    assert isinstance(proc, PyCalcDef)
    assert proc.python_code_urls == ("/in/a.py",)
    assert proc.calc_order == ("a", "b", "c")
    assert proc.field_types == {"c": FieldType.FLOAT, "b": FieldType.STRING, "a": FieldType.DECIMAL2}


def test_tag_and_denormalize_inline_and_url() -> None:
    doc = _base()
    node = {
        "type": "table_custom_tfm_table",
        "custom_proc_type": "tag_and_denormalize",
        "r": {"table": "orders"},
        "p": {"tag_field_name": "tag", "tag_criteria": {"big": "r.amount > 100", "named": "len(r.name) > 0"}},
        "w": {"name": "tagged", "fields": {"tag": {"expression": "p.tag", "type": "string"}}},
    }
    doc["nodes"]["tag"] = node
    proc = _load(doc).nodes["tag"].custom_processor
    assert isinstance(proc, TagAndDenormalizeDef) and proc.tag_criteria is not None
    assert list(proc.tag_criteria) == ["big", "named"]
    node["p"] = {"tag_field_name": "tag", "tag_criteria_url": "{dir_in}/tags.json"}
    proc = _load(doc).nodes["tag"].custom_processor
    assert isinstance(proc, TagAndDenormalizeDef)
    assert proc.tag_criteria is None and proc.tag_criteria_url == "/in/tags.json"


def test_load_from_files_and_file_url(tmp_path: Path) -> None:
    script = tmp_path / "s.yaml"
    script.write_text(yaml.safe_dump(_base()))
    params = tmp_path / "p.yaml"
    params.write_text("dir_in: /x\ndir_out: /y\n")
    s = load_script(f"file://{script}", str(params))
    reader = s.nodes["read_orders"].file_reader
    assert reader is not None and reader.urls == ("/x/orders.csv",)


def test_missing_file_is_a_connectivity_problem(tmp_path: Path) -> None:
    with pytest.raises(ScriptFetchError) as info:
        load_script(str(tmp_path / "nope.json"))
    assert info.value.problem is Problem.CONNECTIVITY


def test_unsupported_scheme_is_a_clear_error() -> None:
    with pytest.raises(ScriptValidationError, match="unsupported URL scheme 'ftp'"):
        load_script("ftp://host/s.json")


def test_custom_fetcher_by_scheme() -> None:
    class Memory:
        def read_bytes(self, url: str) -> bytes:
            return json.dumps(_base()).encode() if url.endswith(".json") else b"dir_in: /m\ndir_out: /o\n"

    s = load_script("mem://s.json", "mem://p.yaml", fetcher=SchemeFetcher(fetchers={"mem": Memory()}))
    reader = s.nodes["read_orders"].file_reader
    assert reader is not None and reader.urls == ("/m/orders.csv",)


def test_script_must_be_an_object() -> None:
    with pytest.raises(ScriptValidationError, match="script must be a JSON object"):
        load_script_text("[]", fmt="json")
