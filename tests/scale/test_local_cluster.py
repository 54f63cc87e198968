"""`services status` of the local 3+3 clusters (tests/scale/conftest.py); losing their nodes during runs is in
test_cluster_runs.py."""

from __future__ import annotations

import pytest

from tests.scale.conftest import NODES, services

pytestmark = [pytest.mark.integration, pytest.mark.fault]


def test_status_lists_every_node_with_its_address(cluster_env: dict[str, str]) -> None:
    status = services("status", env=cluster_env)
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    for node in range(1, NODES + 1):
        assert any(
            line.startswith(f"Cassandra 5.0.8 up at 127.0.0.{node}:9042 (started by capillaries, pid ")
            for line in lines
        ), lines
        assert any(
            line.startswith(f"RabbitMQ 3.10.8 up at 127.0.0.1:{5671 + node} (started by capillaries, pid ")
            for line in lines
        ), lines
