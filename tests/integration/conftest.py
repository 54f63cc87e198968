"""Integration tests run against the real local Cassandra and RabbitMQ, started here if they are not running."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from capillaries_provider.config import AmqpSettings, CassandraSettings, amqp_settings, cassandra_settings
from capillaries_provider.services import cassandra, rabbitmq


@pytest.fixture(scope="session", autouse=True)
def live_services() -> Iterator[tuple[CassandraSettings, AmqpSettings]]:
    """`capillaries services up` once per session; services are left running for the next session (idempotent)."""
    cassandra.up()
    rabbitmq.up()
    yield cassandra_settings(), amqp_settings()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
