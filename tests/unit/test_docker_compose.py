"""docker/docker-compose.yml is well-formed and has every service users rely on.

No Docker engine runs on our machines, but the docker client does: with Compose v2 from Debian's archive
(docker/compose_plugin.py) `docker compose config` resolves the file as `docker compose up` would, without an
engine. The same checks run on the YAML as written and on the model Compose resolved from it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

DOCKER = Path(__file__).resolve().parents[2] / "docker"
COMPOSE = DOCKER / "docker-compose.yml"


def _check_stack(doc: dict[str, Any]) -> None:
    services = doc["services"]
    assert services["cassandra"]["image"].startswith("cassandra:5.0")
    assert "management" in services["rabbitmq"]["image"]
    for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
        service = services[f"airflow-{component}"]
        assert service["command"] == ["airflow", component]
        assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
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


def test_compose_file_has_the_stack() -> None:
    _check_stack(yaml.safe_load(COMPOSE.read_text()))


def _docker_compose(*args: str) -> subprocess.CompletedProcess[str]:
    plugin = subprocess.run(
        [sys.executable, str(DOCKER / "compose_plugin.py")], capture_output=True, text=True, timeout=600
    )
    assert plugin.returncode == 0, plugin.stderr
    env = {**os.environ, "DOCKER_CONFIG": plugin.stdout.strip()}
    return subprocess.run(["docker", "compose", *args], capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.integration
def test_docker_compose_config_resolves_the_file_and_refuses_a_broken_one(tmp_path: Path) -> None:
    """Integration: fetches Compose v2 from deb.debian.org once (an install step, like apt), then runs offline."""
    done = _docker_compose("-f", str(COMPOSE), "config", "--format", "json")
    assert done.returncode == 0, done.stderr
    _check_stack(json.loads(done.stdout))

    broken = tmp_path / "docker-compose.yml"
    doc = yaml.safe_load(COMPOSE.read_text())
    doc["services"]["airflow-scheduler"]["depends_on"]["no-such-service"] = {"condition": "service_started"}
    broken.write_text(yaml.safe_dump(doc))
    refused = _docker_compose("-f", str(broken), "config", "-q")
    assert refused.returncode != 0
    assert "no-such-service" in refused.stderr
