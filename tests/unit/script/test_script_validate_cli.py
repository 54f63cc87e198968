"""`capillaries validate` and the dot/mermaid renderings."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from capillaries_provider.cli.main import main
from capillaries_provider.script.loader import load_script, load_script_text
from capillaries_provider.script.render import node_edges, to_dot, to_mermaid
from capillaries_provider.script.svg import layers, layout, to_svg

DATA = Path(__file__).parent / "data"
SCRIPT = str(DATA / "valid_small.json")
PARAMS = str(DATA / "valid_small_params.json")
INVALID = Path(__file__).parent / "invalid"


def test_validate_ok_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", SCRIPT, "--params", PARAMS]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK ")
    assert "5 nodes, 4 tables, 3 indexes, 1 file writers, 4 edges, 1 dependency policies" in out


def test_validate_reports_every_error_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    case = INVALID / "many_errors_reported_together"
    assert main(["validate", str(case / "script.json"), "--params", str(case / "params.json")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("script has 4 errors:")
    assert "node read_orders: w.fields.name.expression: unknown field r.col_nmae" in err
    assert "node file_totals: w.top.limit" in err


def test_validate_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["validate", str(tmp_path / "none.json")]) == 1
    assert "cannot load script" in capsys.readouterr().err


def test_edges_carry_tables_and_lookups() -> None:
    s = load_script(SCRIPT, PARAMS)
    labels = {(e.parent, e.child): e.label for e in node_edges(s)}
    assert labels == {
        ("read_orders", "order_totals"): "orders",
        ("read_items", "order_totals"): "lookup idx_items_order_id",
        ("read_orders", "distinct_names"): "orders",
        ("order_totals", "file_totals"): "order_totals",
    }
    assert len(node_edges(s)) == 4


def test_dot_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", SCRIPT, "--params", PARAMS, "--format", "dot"]) == 0
    out = capsys.readouterr().out
    assert out == to_dot(load_script(SCRIPT, PARAMS))
    assert out.startswith("digraph script {")
    assert '"order_totals" [label="order_totals\\ntable_lookup_table\\ntable order_totals"];' in out
    assert '"read_items" -> "order_totals" [label="lookup idx_items_order_id"];' in out
    assert "file /data/out/totals_{batch_idx|string}.csv" in out
    assert out.rstrip().endswith("}")


def test_mermaid_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", SCRIPT, "--params", PARAMS, "--format", "mermaid"]) == 0
    out = capsys.readouterr().out
    assert out == to_mermaid(load_script(SCRIPT, PARAMS))
    lines = out.splitlines()
    assert lines[0] == "flowchart TD"
    assert '  n2["order_totals<br/>table_lookup_table<br/>table order_totals"]' in lines
    assert '  n1 -->|"lookup idx_items_order_id"| n2' in lines


def test_manual_nodes_are_dashed() -> None:
    doc = json.loads(Path(SCRIPT).read_text())
    doc["nodes"]["order_totals"]["start_policy"] = "manual"
    s = load_script_text(json.dumps(doc), fmt="json", params=json.loads(Path(PARAMS).read_text()))
    assert '"order_totals" [label="order_totals\\ntable_lookup_table\\ntable order_totals", style=dashed];' in to_dot(s)
    assert "  style n2 stroke-dasharray: 5 5" in to_mermaid(s).splitlines()


def test_svg_output_is_a_layered_picture(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", SCRIPT, "--params", PARAMS, "--format", "svg"]) == 0
    out = capsys.readouterr().out
    s = load_script(SCRIPT, PARAMS)
    assert out == to_svg(s)
    root = ET.fromstring(out)
    ns = "{http://www.w3.org/2000/svg}"
    assert [t.text for t in root.iter(f"{ns}title")] == list(s.nodes)
    assert len(list(root.iter(f"{ns}line"))) == len(node_edges(s))
    assert "lookup idx_items_order_id" in [t.text for t in root.iter(f"{ns}text")]
    assert layers(s) == [["read_orders", "read_items"], ["order_totals", "distinct_names"], ["file_totals"]]
    boxes = layout(s)
    assert boxes["read_orders"].y == boxes["read_items"].y < boxes["order_totals"].y < boxes["file_totals"].y
    assert boxes["read_orders"].x + boxes["read_orders"].w < boxes["read_items"].x


def test_svg_escapes_text_and_dashes_manual_nodes() -> None:
    doc = json.loads(Path(SCRIPT).read_text())
    doc["nodes"]["read_orders"]["start_policy"] = "manual"
    doc["nodes"]["file_totals"]["w"]["url_template"] = "/out/a<b>&c.csv"
    s = load_script_text(json.dumps(doc), fmt="json", params=json.loads(Path(PARAMS).read_text()))
    out = to_svg(s)
    ET.fromstring(out)
    assert "file /out/a&lt;b&gt;&amp;c.csv" in out
    assert out.count('stroke-dasharray="5 5"') == 1
