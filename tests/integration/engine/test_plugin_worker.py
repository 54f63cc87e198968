"""A third-party processor type installed where the workers run (the example `regex_extract`, found through its
`capillaries.processors` entry point) is picked up by `run start` and by real worker processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cassandra.cluster import Session
from conftest import Env, stop_worker

from capillaries_provider.store.workflow import WorkflowStore
from tests.plugin_site import EXAMPLE, REGEX_EXTRACT, install


def _script(tmp: Path) -> Path:
    (tmp / "people.csv").write_text("id,full_name\n1,Ada Lovelace\n2,Plato\n3,Alan Turing\n")
    nodes = {
        "read": {
            "type": "file_table",
            "r": {
                "urls": [str(tmp / "people.csv")],
                "csv": {"hdr_line_idx": 0, "first_data_line_idx": 1},
                "columns": {
                    "id": {"col_type": "int", "csv": {"col_hdr": "id", "col_format": "%d"}},
                    "full_name": {"col_type": "string", "csv": {"col_hdr": "full_name"}},
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
            "r": {"table": "people"},
            "p": {"source": "full_name", "pattern": r"^(?P<first>\w+) (?P<last>\w+)$"},
            "w": {
                "name": "names",
                "fields": {
                    "id": {"expression": "r.id", "type": "int"},
                    "last": {"expression": "p.last", "type": "string"},
                },
            },
        },
    }
    policy = {"is_default": True, "event_priority_order": "run_id", "rules": [{"cmd": "go", "expression": "true"}]}
    script = tmp / "script.json"
    script.write_text(json.dumps({"nodes": nodes, "dependency_policies": {"p": policy}}))
    return script


def test_workers_run_an_installed_processor_type(
    private_env: Env, session: Session, keyspace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = install(tmp_path / "site", "capillaries-regex-extract", REGEX_EXTRACT)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), str(EXAMPLE), os.environ.get("PYTHONPATH", "")]))
    script = _script(tmp_path)
    worker = private_env.start_worker(1)
    try:
        done = private_env.cli(
            "run", "start", "--keyspace", keyspace, "--script", str(script), "--start-nodes", "read", "--wait"
        )
    finally:
        assert stop_worker(worker) == 0
    assert done.returncode == 0, done.stderr
    rows = session.execute(f"SELECT id, last FROM {keyspace}.names_00001").all()
    assert sorted((r["id"], r["last"]) for r in rows) == [(1, "Lovelace"), (3, "Turing")]
    assert WorkflowStore(session, keyspace).read_batch_history(1, "split")[-1].status.label == "success"
