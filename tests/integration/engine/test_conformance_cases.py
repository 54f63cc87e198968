"""Golden outputs of the reference implementation produced through the real CLI and workers.

`proto_file_reader_creator_quicktest` (csv and parquet variants) and the Go-expression branch of
`py_calc_quicktest` (`taxed_order_items_go`). The py_calc script also has Python nodes; to run only the Go branch
the test makes `taxed_order_items_py` manual in its staged copy of the script (the only change), so the run's
affected nodes are read_order_items -> taxed_order_items_go -> file_taxed_order_items_go.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import Env

from capillaries_provider.engine import compare
from tests.conftest import CONFORMANCE, needs_shared

PROTO = CONFORMANCE / "proto_file_reader_creator_quicktest"
PY_CALC = CONFORMANCE / "py_calc_quicktest" / "test" / "data"

pytestmark = needs_shared(CONFORMANCE)


def _rewrite(text: str, root: Path) -> str:
    for kind in ("cfg", "in", "out"):
        text = text.replace(f"/tmp/capi_{kind}", str(root / kind))
    return text


def _run(env: Env, ks: str, script: Path, params: Path | None, nodes: str) -> None:
    args = [
        "run",
        "start",
        "--keyspace",
        ks,
        "--script",
        str(script),
        "--start-nodes",
        nodes,
        "--wait",
        "--timeout",
        "600",
    ]
    if params is not None:
        args += ["--params", str(params)]
    done = env.cli(*args, timeout=700)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"


@pytest.mark.parametrize(
    ("variant", "output", "mode"),
    [("csv", "products.csv", "exact_lines_ws"), ("parquet", "products.parquet", "parquet_logical")],
)
def test_proto_file_reader_creator(
    env: Env, worker: subprocess.Popen[bytes], keyspace: str, tmp_path: Path, variant: str, output: str, mode: str
) -> None:
    case = "proto_file_reader_creator_quicktest"
    data_in = tmp_path / "in" / case
    data_in.mkdir(parents=True)
    shutil.copyfile(PROTO / "test/data/in/proto_file_reader_creator" / output, data_in / output)
    script = tmp_path / f"script_{variant}.json"
    script.write_text(_rewrite((PROTO / "generated" / f"script_{variant}.json").read_text(), tmp_path))
    _run(env, keyspace, script, None, "read_file")
    result = getattr(compare, mode)(tmp_path / "out" / case / output, data_in / output)
    assert result.ok, result.message


def test_py_calc_go_branch(env: Env, worker: subprocess.Popen[bytes], keyspace: str, tmp_path: Path) -> None:
    case = "py_calc_quicktest"
    (tmp_path / "in" / case).mkdir(parents=True)
    for f in (PY_CALC / "in" / "py_calc").iterdir():
        shutil.copyfile(f, tmp_path / "in" / case / f.name)
    doc = json.loads(_rewrite((PY_CALC / "cfg/py_calc/script.json").read_text(), tmp_path))
    doc["nodes"]["taxed_order_items_py"]["start_policy"] = "manual"
    script = tmp_path / "script_go_only.json"
    script.write_text(json.dumps(doc, indent=1))
    params = tmp_path / "script_params.json"
    params.write_text(_rewrite((PY_CALC / "cfg/py_calc/script_params.json").read_text(), tmp_path))
    _run(env, keyspace, script, params, "read_order_items")
    out = tmp_path / "out" / case
    produced = [out / "taxed_order_items_go_00000.csv", out / "taxed_order_items_go_00001.csv"]
    assert not (out / "taxed_order_items_py_00000.csv").exists()
    result = compare.merge_batches_sort_data(produced, PY_CALC / "out/py_calc/taxed_order_items_go_baseline.csv")
    assert result.ok, result.message
