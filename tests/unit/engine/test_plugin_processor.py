"""Third-party custom processors: the example `regex_extract`, installed as a distribution with a
`capillaries.processors` entry point, is validated by the loader and run by the table_custom_tfm_table processor."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from memory_store import MemoryStore, task

from capillaries_provider.cli.main import main
from capillaries_provider.engine.processors.context import BatchError, BatchJob
from capillaries_provider.engine.processors.registry import processor_for
from capillaries_provider.script.errors import ScriptValidationError
from capillaries_provider.script.loader import load_script_text
from capillaries_provider.script.model import NodeType, PluginProcessorDef, Script
from capillaries_provider.script.plugins import available_types, processor_type
from tests.plugin_site import EXAMPLE, REGEX_EXTRACT, install


@pytest.fixture
def regex_extract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The example installed into a fresh site folder on sys.path (PYTHONPATH too, for subprocesses)."""
    site = tmp_path / "site"
    install(site, "capillaries-regex-extract", REGEX_EXTRACT)
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.syspath_prepend(str(site))
    processor_type.cache_clear()
    yield site
    processor_type.cache_clear()


def script_doc(p: dict[str, Any], w_fields: dict[str, Any] | None = None) -> dict[str, Any]:
    nodes = {
        "read": {
            "type": "file_table",
            "r": {
                "urls": ["x.csv"],
                "columns": {
                    "id": {"col_type": "int", "csv": {"col_idx": 0}},
                    "full_name": {"col_type": "string", "csv": {"col_idx": 1}},
                },
            },
            "w": {
                "name": "people",
                "fields": {
                    "id": {"expression": "r.id", "type": "int"},
                    "full_name": {"expression": "r.full_name", "type": "string"},
                },
            },
        },
        "split": {
            "type": "table_custom_tfm_table",
            "custom_proc_type": "regex_extract",
            "r": {"table": "people", "rowset_size": 2},
            "p": p,
            "w": {
                "name": "names",
                "fields": w_fields
                or {
                    "id": {"expression": "r.id", "type": "int"},
                    "last": {"expression": "p.last", "type": "string"},
                    "initial": {"expression": 'p.first + "."', "type": "string"},
                },
            },
        },
    }
    policy = {"is_default": True, "event_priority_order": "run_id", "rules": [{"cmd": "go", "expression": "true"}]}
    return {"nodes": nodes, "dependency_policies": {"p": policy}}


P = {"source": "full_name", "pattern": r"^(?P<first>\w)\w* (?P<last>\w+)$"}


def load(doc: dict[str, Any]) -> Script:
    return load_script_text(json.dumps(doc), fmt="json")


def run(script: Script, rows: list[dict[str, Any]]) -> MemoryStore:
    store = MemoryStore()
    creator = script.nodes["read"].table_creator
    assert creator is not None
    w = store.row_writer("ks", creator, 1, 0)
    for row in rows:
        w.write(row)
    job = BatchJob(task("split", run_id=2), script, script.nodes["split"], store, reader_run_id=1)
    processor_for(NodeType.TABLE_CUSTOM_TFM_TABLE)(job)
    return store


def test_installed_type_is_listed_loaded_and_run(regex_extract: Path) -> None:
    assert available_types() == ["py_calc", "tag_and_denormalize", "regex_extract"]
    script = load(script_doc(P))
    proc = script.nodes["split"].custom_processor
    assert isinstance(proc, PluginProcessorDef)
    assert {k: v.value for k, v in proc.field_types.items()} == {"first": "string", "last": "string"}
    rows = [
        {"id": 1, "full_name": "Ada Lovelace"},
        {"id": 2, "full_name": "Plato"},
        {"id": 3, "full_name": "Alan Turing"},
    ]
    out = run(script, rows).table("names", 2)
    assert sorted((r["id"], r["initial"], r["last"]) for r in out.values()) == [
        (1, "A.", "Lovelace"),
        (3, "A.", "Turing"),
    ]
    keep = run(load(script_doc({**P, "keep_unmatched": True})), rows).table("names", 2)
    assert sorted((r["id"], r["initial"], r["last"]) for r in keep.values())[1] == (2, ".", "")


def test_validation_names_node_key_and_problem(regex_extract: Path) -> None:
    cases = [
        ({**P, "pattern": "(?P<x>"}, None, "node split: p: regex_extract: p.pattern: invalid regular expression"),
        ({"pattern": "(?P<x>.)"}, None, "node split: p: regex_extract: p.source: the name of a string field"),
        ({**P, "source": "nick"}, None, "node split: p: regex_extract: unknown field r.nick"),
        (P, {"x": {"expression": "p.middle", "type": "string"}}, "unknown field p.middle"),
        (P, {"x": {"expression": "p.last", "type": "int"}}, "w.fields.x.expression"),
    ]
    for p, w_fields, message in cases:
        with pytest.raises(ScriptValidationError) as e:
            load(script_doc(p, w_fields))
        assert message in str(e.value), str(e.value)


def test_processor_failure_fails_the_batch_naming_it(regex_extract: Path) -> None:
    script = load(script_doc({**P, "source": "id"}, {"last": {"expression": "p.last", "type": "string"}}))
    with pytest.raises(BatchError, match="node split: custom processor regex_extract: TypeError: r.id is int"):
        run(script, [{"id": 1, "full_name": "Ada Lovelace"}])


def test_validate_cli_sees_the_type_only_when_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(script_doc(P)))
    processor_type.cache_clear()
    assert main(["validate", str(path)]) == 1
    assert "unknown custom processor type 'regex_extract', expected one of: py_calc, tag_and_denormalize" in (
        capsys.readouterr().err
    )
    site = tmp_path / "site"
    install(site, "capillaries-regex-extract", REGEX_EXTRACT)
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.syspath_prepend(str(site))
    processor_type.cache_clear()
    assert main(["validate", str(path)]) == 0
    assert "2 nodes" in capsys.readouterr().out


def test_broken_entry_points_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    install(site, "broken-one", "regex_extract = no_such_module_here:PROCESSOR")
    monkeypatch.syspath_prepend(str(site))
    processor_type.cache_clear()
    try:
        with pytest.raises(
            ScriptValidationError,
            match="entry point regex_extract = no_such_module_here:PROCESSOR"
            r" \(group capillaries.processors\): cannot load: ModuleNotFoundError",
        ):
            load(script_doc(P))
    finally:
        processor_type.cache_clear()
