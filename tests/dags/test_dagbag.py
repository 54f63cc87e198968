"""Every DAG file in dags/ imports without errors (what Airflow's dag-processor would report)."""

from __future__ import annotations

from pathlib import Path

DAGS = Path(__file__).resolve().parents[2] / "dags"


def test_every_dag_file_imports_cleanly() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    files = sorted(p.name for p in DAGS.glob("*.py"))
    assert files, "dags/ holds no DAG file"
    loaded = sorted({Path(dag.fileloc).name for dag in bag.dags.values()})
    assert loaded == files
