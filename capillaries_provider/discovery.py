"""DAG discovery for Airflow's safe mode: `[core] might_contain_dag_callable` pointing here also finds our DAG files.

With safe mode on (the default), Airflow parses a file only if its bytes contain both "airflow" and "dag", so a
file that just uses `capillaries_provider` is skipped without any error. Set
`[core] might_contain_dag_callable = capillaries_provider.discovery.might_contain_dag` (or the environment
variable `AIRFLOW__CORE__MIGHT_CONTAIN_DAG_CALLABLE`) to keep Airflow's own heuristic and also accept such files.
"""

from __future__ import annotations

import zipfile

from airflow.utils.file import might_contain_dag_via_default_heuristic

MARKER = b"capillaries_provider"


def _content(file_path: str, zip_file: zipfile.ZipFile | None) -> bytes:
    if zip_file is not None:
        with zip_file.open(file_path) as member:
            return member.read()
    with open(file_path, "rb") as f:
        return f.read()


def might_contain_dag(file_path: str, zip_file: zipfile.ZipFile | None = None) -> bool:
    """Airflow's default heuristic, or the file (or zip member `file_path` of `zip_file`) mentions our package."""
    if might_contain_dag_via_default_heuristic(file_path=file_path, zip_file=zip_file):
        return True
    return MARKER in _content(file_path, zip_file).lower()
