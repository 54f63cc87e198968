"""docker/docker-compose.yml is well-formed and has every service users rely on.

No Docker engine (nor the compose plugin) runs on our machines, so this structural check is what we can verify.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker" / "docker-compose.yml"


def test_compose_file_has_the_stack() -> None:
    doc = yaml.safe_load(COMPOSE.read_text())
    services = doc["services"]
    assert services["cassandra"]["image"].startswith("cassandra:5.0")
    assert "management" in services["rabbitmq"]["image"]
    for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
        service = services[f"airflow-{component}"]
        assert service["command"] == ["airflow", component]
        assert service["depends_on"]["airflow-init"] == {"condition": "service_completed_successfully"}
        assert ("ports" in service) == (component == "api-server")
    assert services["airflow-init"]["command"] == ["airflow", "db", "migrate"]
    airflow_env = services["airflow-scheduler"]["environment"]
    assert airflow_env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert airflow_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith(
        "postgresql+psycopg2://airflow:airflow@postgres/"
    )
    assert services["postgres"]["image"].startswith("postgres:")
    assert (
        airflow_env["AIRFLOW__CORE__MIGHT_CONTAIN_DAG_CALLABLE"] == "capillaries_provider.discovery.might_contain_dag"
    )
    # The connection ids the provider uses by default, as JSON the env secrets backend reads.
    assert json.loads(airflow_env["AIRFLOW_CONN_CASSANDRA_DEFAULT"])["host"] == "cassandra"
    assert json.loads(airflow_env["AIRFLOW_CONN_CAPILLARIES_AMQP_DEFAULT"])["host"] == "rabbitmq"
    assert services["worker"]["command"] == ["capillaries", "worker"]
    env = services["worker"]["environment"]
    assert env["CAPILLARIES_CASSANDRA_HOSTS"] == "cassandra"
    assert env["CAPILLARIES_AMQP_URL"].startswith("amqp://")
    build = services["worker"]["build"]
    assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve().exists()
