"""Hostile scripts (`corpus/hostile.json`): each is refused fast, with one exact error, by validate and by Airflow.

A script loader that Airflow's dag-processor calls on every parse must never stall or crash on a bad file, and
`capillaries validate` must refuse what the DAG factory refuses, with the same words. Every case therefore runs
through both: the CLI (exit 1, the exact error line, no traceback, under 2 s) and Airflow's own `DagBag` on a DAG
file that uses the script (an import error holding that same line, under 2 s).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from capillaries_provider.script.limits import MAX_DOCUMENT_BYTES

CORPUS = Path(__file__).with_name("corpus") / "hostile"
CASES: list[dict[str, Any]] = json.loads((CORPUS.parent / "hostile.json").read_text())
# A stall detector, not a speed check: the CLI itself takes about 1.5 s to start here and more on a loaded machine,
# while an unguarded alias bomb or giant expression runs for minutes or exhausts memory.
LIMIT_S = 15.0
CLI = [sys.executable, "-m", "capillaries_provider.cli.main"]


def _stage(case: dict[str, Any], dst: Path) -> tuple[Path, Path | None]:
    """The case's script (and params) under `dst`, generating the files too big to keep in the repository."""
    dst.mkdir(parents=True)
    fill = {"{CASE}": str(dst), "{OUT}": str(dst / "out"), "{EXPRESSION}": _expression(case)}
    for src in (CORPUS / case["case"]).iterdir():
        text = src.read_text()
        for placeholder, value in fill.items():
            text = text.replace(placeholder, value)
        (dst / src.name).write_text(text)
    script = dst / case.get("script", "script.json")
    if "size_bytes" in case:
        with script.open("wb") as f:
            f.truncate(case["size_bytes"])  # sparse: costs no disk
    if "nested_json" in case:
        script.write_text("[" * case["nested_json"] + "]" * case["nested_json"])
    return script, dst / case["params"] if "params" in case else None


def _expression(case: dict[str, Any]) -> str:
    """`expression` repeated; a trailing binary operator is dropped, a `suffix` (the innermost operand) is added."""
    if "expression" not in case:
        return ""
    text = case["expression"] * case["repeat"]
    if "suffix" in case:
        closing = ")" * text.count("(")
        return text + case["suffix"] + closing
    return text.removesuffix(" + ")


def _error(case: dict[str, Any], script: Path) -> str:
    return str(case["error"]).replace("{SCRIPT}", str(script))


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_validate_refuses_the_case_fast_with_the_exact_error(case: dict[str, Any], tmp_path: Path) -> None:
    script, params = _stage(case, tmp_path / "case")
    args = [*CLI, "validate", str(script)]
    args += ["--params", str(params)] if params else []
    args += ["--keyspace", case["keyspace"]] if "keyspace" in case else []
    started = time.monotonic()
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert _error(case, script) in done.stderr.splitlines(), done.stderr[:2000]
    assert elapsed < LIMIT_S, f"{elapsed:.2f} s"


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_airflow_dag_parse_refuses_the_case_fast_with_the_same_error(case: dict[str, Any], tmp_path: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    script, params = _stage(case, tmp_path / "case")
    dags = tmp_path / "dags"
    dags.mkdir()
    dag_file = dags / "hostile.py"
    dag_file.write_text(
        "# Airflow DAG for one hostile-input case\n"
        "from capillaries_provider import CapillariesDag\n\n"
        f"dag = CapillariesDag(dag_id='hostile', script_path={str(script)!r}, params_path={params and str(params)!r},"
        f" keyspace={case.get('keyspace', 'hostile')!r})\n"
    )
    started = time.monotonic()
    bag = DagBag(dag_folder=str(dags))
    elapsed = time.monotonic() - started
    assert bag.dags == {}
    [message] = bag.import_errors.values()
    assert _error(case, script).removeprefix("- ") in message, message[-2000:]
    assert "RecursionError" not in message
    assert elapsed < LIMIT_S, f"{elapsed:.2f} s"


def test_the_1_gb_case_is_beyond_the_limit_by_size_alone() -> None:
    """The script of 1 GiB must be refused by its size: reading it would take seconds and a gigabyte."""
    [case] = [c for c in CASES if c["case"] == "script_of_1_gb"]
    assert case["size_bytes"] > 60 * MAX_DOCUMENT_BYTES
