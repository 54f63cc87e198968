"""Airflow tests: unit tests need nothing running; `integration` ones get the real services and an Airflow DB."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "dags" / "capillaries_examples"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/airflow/" in str(item.fspath) and "integration" in item.fspath.basename:
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.airflow)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """`airflow db migrate` once per session in the test AIRFLOW_HOME (about 6 s)."""
    home = Path(os.environ["AIRFLOW_HOME"])
    if not (home / "airflow.db").exists():
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
    return home


@pytest.fixture(scope="session")
def live_services() -> Iterator[None]:
    """Local Cassandra and RabbitMQ (`capillaries services up`, idempotent; left running afterwards)."""
    from capillaries_provider.services import cassandra, rabbitmq

    cassandra.up()
    rabbitmq.up()
    yield
