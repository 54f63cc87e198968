"""docker/docker-compose.yml is well-formed and has every service users rely on.

No Docker engine (nor the compose plugin) runs on our machines, so this structural check is what we can verify.
"""

from __future__ import annotations

from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker" / "docker-compose.yml"


def test_compose_file_has_the_stack() -> None:
    doc = yaml.safe_load(COMPOSE.read_text())
    services = doc["services"]
    assert services["cassandra"]["image"].startswith("cassandra:5.0")
    assert "management" in services["rabbitmq"]["image"]
    for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
        assert services[f"airflow-{component}"]["command"] == ["airflow", component]
    assert services["worker"]["command"] == ["capillaries", "worker"]
    env = services["worker"]["environment"]
    assert env["CAPILLARIES_CASSANDRA_HOSTS"] == "cassandra"
    assert env["CAPILLARIES_AMQP_URL"].startswith("amqp://")
    build = services["worker"]["build"]
    assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve().exists()
