"""Tag criteria read from `tag_criteria_url` when the node runs (spec 7.2)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from capillaries_provider.expr.ast import Binary
from capillaries_provider.script.errors import ScriptFetchError, ScriptValidationError
from capillaries_provider.script.external import tag_criteria
from capillaries_provider.script.loader import load_script_text
from capillaries_provider.script.model import Script
from tests.conftest import CONFORMANCE, needs_shared

BASE: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "valid_small.json").read_text())
REAL_CRITERIA = CONFORMANCE / "tag_and_denormalize_quicktest/test/data/cfg/tag_and_denormalize/tag_criteria.json"


def _script(p: dict[str, Any], reader_table: str = "orders") -> Script:
    doc = copy.deepcopy(BASE)
    doc["nodes"]["tag"] = {
        "type": "table_custom_tfm_table",
        "custom_proc_type": "tag_and_denormalize",
        "r": {"table": reader_table},
        "p": p,
        "w": {"name": "tagged", "fields": {"tag": {"expression": "p.tag", "type": "string"}}},
    }
    return load_script_text(json.dumps(doc), fmt="json", params={"dir_in": "/in", "dir_out": "/out"})


def test_inline_criteria_are_returned_as_loaded() -> None:
    s = _script({"tag_field_name": "tag", "tag_criteria": {"big": "r.amount > 100"}})
    crit = tag_criteria(s, s.nodes["tag"])
    assert list(crit) == ["big"] and isinstance(crit["big"].ast, Binary)


def test_criteria_file_is_fetched_and_checked(tmp_path: Path) -> None:
    f = tmp_path / "tags.json"
    f.write_text(json.dumps({"big": "r.amount > 100", "named": "re.MatchString(`^A`, r.name)"}))
    s = _script({"tag_field_name": "tag", "tag_criteria_url": str(f)})
    assert list(tag_criteria(s, s.nodes["tag"])) == ["big", "named"]


def test_criteria_file_errors_name_tag_and_caret(tmp_path: Path) -> None:
    f = tmp_path / "tags.json"
    f.write_text(json.dumps({"ok": "r.amount > 1", "bad": "r.name", "worse": "r.nope == 1"}))
    s = _script({"tag_field_name": "tag", "tag_criteria_url": str(f)})
    with pytest.raises(ScriptValidationError) as info:
        tag_criteria(s, s.nodes["tag"])
    errs = {e.key: e for e in info.value.errors}
    assert set(errs) == {"tag_criteria.bad", "tag_criteria.worse"}
    assert "does not match declared type bool" in errs["tag_criteria.bad"].message
    assert errs["tag_criteria.worse"].message == "unknown field r.nope"
    assert all(e.file == str(f) and e.node == "tag" for e in info.value.errors)


@pytest.mark.parametrize(
    ("content", "message"), [("", "is empty"), ("[1]", "must be a JSON object"), ("{", "invalid JSON")]
)
def test_bad_criteria_files(tmp_path: Path, content: str, message: str) -> None:
    f = tmp_path / "tags.json"
    f.write_text(content)
    s = _script({"tag_field_name": "tag", "tag_criteria_url": str(f)})
    with pytest.raises(ScriptValidationError, match=message):
        tag_criteria(s, s.nodes["tag"])


def test_missing_criteria_file(tmp_path: Path) -> None:
    s = _script({"tag_field_name": "tag", "tag_criteria_url": str(tmp_path / "none.json")})
    with pytest.raises(ScriptFetchError):
        tag_criteria(s, s.nodes["tag"])


@needs_shared(REAL_CRITERIA)
def test_conformance_tag_criteria_file() -> None:
    doc = copy.deepcopy(BASE)
    doc["nodes"]["read_products"] = {
        "type": "file_table",
        "r": {
            "urls": ["p.tsv"],
            "columns": {
                "c1": {"csv": {"col_idx": 1}, "col_type": "string"},
                "c2": {"csv": {"col_idx": 2}, "col_type": "string"},
                "c3": {"csv": {"col_idx": 3, "col_format": "%f"}, "col_type": "decimal2"},
            },
        },
        "w": {
            "name": "products",
            "fields": {
                "category_tree": {"expression": "r.c1", "type": "string"},
                "product_spec": {"expression": "r.c2", "type": "string"},
                "price": {"expression": "r.c3", "type": "decimal2"},
            },
        },
    }
    doc["nodes"]["tag"] = {
        "type": "table_custom_tfm_table",
        "custom_proc_type": "tag_and_denormalize",
        "r": {"table": "products"},
        "p": {"tag_field_name": "tag", "tag_criteria_url": str(REAL_CRITERIA)},
        "w": {"name": "tagged", "fields": {"tag": {"expression": "p.tag", "type": "string"}}},
    }
    s = load_script_text(json.dumps(doc), fmt="json", params={"dir_in": "/in", "dir_out": "/out"})
    assert sorted(tag_criteria(s, s.nodes["tag"])) == ["boys", "casualfootwear", "diving", "engagement"]
