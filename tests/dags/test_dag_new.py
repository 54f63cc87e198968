"""`capillaries dag new`: validates first, then prints a DAG file that safe-mode discovery finds and ruff accepts."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from capillaries_provider.cli.main import main
from tests.conftest import REPO_ROOT, SHOP_ORDERS, write_shop_orders_params

SHOP_TASKS = {
    "start_run",
    "read_customers",
    "read_orders",
    "customer_totals",
    "customer_tiers",
    "file_customer_tiers",
    "file_country_totals",
    "finish_run",
}


def _new(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["dag", "new", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_shop_orders_scaffold_is_found_with_its_tasks_and_passes_ruff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], safe_mode_dagbag: Callable[[Path], Any]
) -> None:
    params = write_shop_orders_params(tmp_path / "params.json", tmp_path / "out")
    code, out, err = _new([str(SHOP_ORDERS / "script.json"), "--params", str(params)], capsys)
    assert code == 0
    assert err.startswith(f"OK {SHOP_ORDERS / 'script.json'}: 6 nodes")  # the summary of `capillaries validate`
    dags = tmp_path / "dags"
    dags.mkdir()
    dag_file = dags / "shop_orders.py"
    dag_file.write_text(out)

    (dag,) = safe_mode_dagbag(dags).dags.values()
    assert dag.dag_id == "shop_orders"
    assert set(dag.task_ids) == SHOP_TASKS
    assert dag.params["keyspace"] == "shop_orders"
    assert dag.params["params_path"] == str(params)
    assert dag.schedule is None
    config = str(REPO_ROOT / "pyproject.toml")
    for ruff in (["check"], ["format", "--check"]):
        done = subprocess.run([sys.executable, "-m", "ruff", *ruff, "--config", config, str(dag_file)], text=True)
        assert done.returncode == 0


def test_options_and_relative_paths(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    safe_mode_dagbag: Callable[[Path], Any],
) -> None:
    """Relative paths become absolute: the dag-processor does not run in the caller's directory."""
    write_shop_orders_params(tmp_path / "params.json", tmp_path / "out")
    monkeypatch.chdir(tmp_path)
    argv = [str(SHOP_ORDERS / "script.json"), "--params", "params.json", "--keyspace", "shop_ks"]
    code, out, _ = _new([*argv, "--schedule", "@daily", "--dag-id", "shop_daily"], capsys)
    assert code == 0
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "shop_daily.py").write_text(out)

    (dag,) = safe_mode_dagbag(dags).dags.values()
    assert (dag.dag_id, dag.params["keyspace"], dag.schedule) == ("shop_daily", "shop_ks", "@daily")
    assert dag.params["params_path"] == str(tmp_path / "params.json")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "unresolved parameter reference {dir_in|string} (no such param)"),
        (["--keyspace", "bad-name"], "bad-name"),
    ],
    ids=["no-params", "bad-keyspace"],
)
def test_an_invalid_script_prints_the_validate_errors_and_no_dag_file(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params = [] if not extra else ["--params", str(write_shop_orders_params(tmp_path / "p.json", tmp_path / "out"))]
    argv = [str(SHOP_ORDERS / "script.json"), *params, *extra]
    code, out, err = _new(argv, capsys)
    validate_code = main(["validate", *argv])
    assert (code, out) == (1, "")
    assert message in err
    assert capsys.readouterr().err == err  # the very errors `capillaries validate` prints
    assert validate_code == 1
