"""Airflow's safe-mode discovery finds the documented DAG files and, with our callable, files naming only us.

Safe mode (on by default) parses a file only if it contains "airflow" and "dag": a DAG file that never says
"airflow" is skipped without an import error, which is what issue 21 reported for the README's example.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, SHOP_ORDERS, write_shop_orders_params

DOCUMENTED = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
PATH_ARG = re.compile(r'(script_path|params_path)="([^"]+)"')


def _dag_file_examples() -> list[tuple[str, str]]:
    """Every python block of the README and docs/ that builds a CapillariesDag: (where, code)."""
    found = []
    for doc in DOCUMENTED:
        for i, code in enumerate(re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.S)):
            if "CapillariesDag(" in code:
                found.append((f"{doc.name}#{i}", code))
    return found


def test_the_readme_shows_a_dag_file() -> None:
    assert any(where.startswith("README.md#") for where, _ in _dag_file_examples())


@pytest.mark.parametrize(("where", "code"), _dag_file_examples(), ids=[w for w, _ in _dag_file_examples()])
def test_a_documented_dag_file_copied_into_an_empty_dags_folder_is_found(
    where: str, code: str, tmp_path: Path, safe_mode_dagbag: Callable[[Path], Any]
) -> None:
    """Only the script and params paths change (to the shop-orders example); the rest is the text as documented."""
    params = write_shop_orders_params(tmp_path / "params.json", tmp_path / "out")
    real = {"script_path": str(SHOP_ORDERS / "script.json"), "params_path": str(params)}
    # The substituted paths must not supply the word "airflow" that safe mode looks for: the text has to.
    assert not any("airflow" in p.lower() for p in real.values())
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "example.py").write_text(PATH_ARG.sub(lambda m: f'{m[1]}="{real[m[1]]}"', code))
    (dag_id,) = re.findall(r'dag_id="([^"]+)"', code)

    assert set(safe_mode_dagbag(dags).dag_ids) == {dag_id}


def test_a_file_naming_only_capillaries_provider_needs_our_discovery_callable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, safe_mode_dagbag: Callable[[Path], Any]
) -> None:
    params = write_shop_orders_params(tmp_path / "params.json", tmp_path / "out")
    code = (
        "from capillaries_provider import CapillariesDag\n\n"
        f'dag = CapillariesDag(dag_id="shop_orders_plain", script_path="{SHOP_ORDERS / "script.json"}",\n'
        f'                     params_path="{params}", keyspace="shop_orders", schedule=None)\n'
    )
    assert "airflow" not in code.lower()
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "plain.py").write_text(code)

    assert safe_mode_dagbag(dags).dag_ids == []
    monkeypatch.setenv("AIRFLOW__CORE__MIGHT_CONTAIN_DAG_CALLABLE", "capillaries_provider.discovery.might_contain_dag")
    assert safe_mode_dagbag(dags).dag_ids == ["shop_orders_plain"]
