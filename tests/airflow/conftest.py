"""Airflow tests: unit tests need nothing running; `integration` ones get the real services and an Airflow DB.

The integration fixtures (connections, a `capillaries worker` subprocess on a private queue, a throw-away keyspace,
DAG serialization) live here so every `dag.test()` module shares them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "dags" / "capillaries_examples"
QUEUE = f"capillaries_airflow_test_{uuid.uuid4().hex[:6]}"
BUNDLE = "capillaries_test_bundle"


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


@pytest.fixture(scope="module")
def connections(live_services: None) -> Iterator[None]:
    """Airflow connections (env secrets backend) pointing at the local services and this session's queue."""
    from capillaries_provider.services.airflow_local import connection_env

    with pytest.MonkeyPatch.context() as mp:
        for k, v in connection_env(QUEUE, override=True).items():
            mp.setenv(k, v)
        yield


@pytest.fixture(scope="module")
def worker(
    connections: None, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[subprocess.Popen[bytes]]:
    """`capillaries worker` on the test queue; a module sets `WORKER_PROCESSES` to use more than one process."""
    processes = int(getattr(request.module, "WORKER_PROCESSES", 1))
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "capillaries_provider.cli.main",
                "worker",
                "--processes",
                str(processes),
                "--queue",
                QUEUE,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "CAPILLARIES_AMQP_QUEUE": QUEUE},
        )
        yield proc
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(log.read_text()[-5000:])


@pytest.fixture
def keyspace(connections: None) -> Iterator[str]:
    """A fresh keyspace name, dropped after the test."""
    from capillaries_provider.config import cassandra_settings
    from capillaries_provider.store.session import close, connect, drop_keyspace

    ks = f"af_{uuid.uuid4().hex[:10]}"
    yield ks
    session = connect(cassandra_settings())
    try:
        drop_keyspace(session, ks)
    finally:
        close(session)


@pytest.fixture
def serialize_dag(airflow_db: Path) -> Callable[[Path, str], Any]:
    """Parse a DAG file and write it to the metadata DB, as `dag.test()` needs a serialized DAG; returns the DAG."""

    def serialize(dag_file: Path, dag_id: str) -> Any:
        from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
        from airflow.models.dagbundle import DagBundleModel
        from airflow.utils.session import create_session

        with create_session() as s:
            s.merge(DagBundleModel(name=BUNDLE))
            s.commit()
        bag = DagBag(dag_folder=str(dag_file))
        assert bag.import_errors == {}
        dag = bag.dags[dag_id]
        sync_bag_to_db(bag, bundle_name=BUNDLE, bundle_version="1")
        return dag

    return serialize
