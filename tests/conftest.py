"""Test-wide settings: an isolated AIRFLOW_HOME so tests never touch a user's Airflow; shop-orders example params."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"
CONFORMANCE = SHARED / "conformance"
WITHOUT_SHARED = "CAPILLARIES_TESTS_WITHOUT_SHARED"

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="capillaries-airflow-test-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO_ROOT / "dags"))

SHOP_ORDERS = REPO_ROOT / "dags" / "capillaries_examples" / "shop_orders"


def write_shop_orders_params(path: Path, dir_out: Path) -> Path:
    """Params of the shop-orders example with its own inputs and `dir_out` as output folder; returns `path`."""
    values = {
        "dir_in": str(SHOP_ORDERS / "in"),
        "dir_py": str(SHOP_ORDERS / "py"),
        "dir_out": str(dir_out),
        "totals_start_policy": "auto",
    }
    path.write_text(json.dumps(values))
    return path


def needs_shared(*paths: Path) -> pytest.MarkDecorator:
    """Mark a test that reads `paths` under `SHARED` (`../shared` beside the repo: the golden conformance cases).

    A missing path **fails** the test, so a run where the folder is absent or moved cannot go green by skipping the
    golden checks. Where the folder is knowingly absent (a bare checkout), set `CAPILLARIES_TESTS_WITHOUT_SHARED=1`
    and those tests skip instead; CI never sets it.
    """
    return pytest.mark.needs_shared(*paths)


@pytest.hookimpl(tryfirst=True)  # before the skip marks: a parametrize over files found in a missing folder is empty
def pytest_runtest_setup(item: pytest.Item) -> None:
    missing = ", ".join(str(p) for mark in item.iter_markers("needs_shared") for p in mark.args if not p.exists())
    if not missing:
        return
    if os.environ.get(WITHOUT_SHARED) == "1":
        pytest.skip(f"{WITHOUT_SHARED}=1 and shared test data absent: {missing}")
    pytest.fail(f"shared test data absent: {missing} (set {WITHOUT_SHARED}=1 to skip instead)", pytrace=False)
