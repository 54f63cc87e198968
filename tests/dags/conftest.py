"""DAG-folder tests: Airflow's own discovery (`DagBag`, safe mode on as in a stock install) on a folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def safe_mode_dagbag() -> Callable[[Path], Any]:
    """Parse a DAGs folder as Airflow's dag-processor would with safe mode on; fails on any import error."""

    def parse(folder: Path) -> Any:
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(folder), safe_mode=True)
        assert bag.import_errors == {}
        return bag

    return parse
