"""`might_contain_dag`: Airflow's safe-mode heuristic plus files that mention capillaries_provider."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from capillaries_provider.discovery import might_contain_dag

CAPILLARIES_ONLY = b"from capillaries_provider import CapillariesDag\n"
AIRFLOW_DAG = b"# An Airflow DAG\nfrom somewhere import build\n"
NEITHER = b"import json\nprint(json.dumps({}))\n"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (CAPILLARIES_ONLY, True),
        (AIRFLOW_DAG, True),
        (b"# AIRFLOW helper, no graph here\n", False),
        (b"from CAPILLARIES_PROVIDER.dag import x\n", True),
        (NEITHER, False),
    ],
)
def test_plain_file(tmp_path: Path, content: bytes, expected: bool) -> None:
    path = tmp_path / "f.py"
    path.write_bytes(content)
    assert might_contain_dag(str(path)) is expected


def test_zip_members_are_read_from_the_archive(tmp_path: Path) -> None:
    archive = tmp_path / "dags.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ours.py", CAPILLARIES_ONLY)
        z.writestr("stock.py", AIRFLOW_DAG)
        z.writestr("other.py", NEITHER)
    with zipfile.ZipFile(archive) as z:
        found = {name: might_contain_dag(name, z) for name in z.namelist()}
    assert found == {"ours.py": True, "stock.py": True, "other.py": False}
    # The archive itself is always a candidate, as with Airflow's default heuristic.
    assert might_contain_dag(str(archive)) is True


def test_airflow_calls_it_when_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow's own `might_contain_dag` calls the configured callable with its keyword arguments."""
    from airflow.utils.file import might_contain_dag as airflow_might_contain_dag

    path = tmp_path / "f.py"
    path.write_bytes(CAPILLARIES_ONLY)
    assert airflow_might_contain_dag(str(path), safe_mode=True) is False
    monkeypatch.setenv("AIRFLOW__CORE__MIGHT_CONTAIN_DAG_CALLABLE", "capillaries_provider.discovery.might_contain_dag")
    assert airflow_might_contain_dag(str(path), safe_mode=True) is True
