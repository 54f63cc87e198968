"""Reliability suites: the real services for the integration parts, one Cassandra session per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cassandra.cluster import Session

from capillaries_provider.config import cassandra_settings
from capillaries_provider.services import cassandra, rabbitmq
from capillaries_provider.store.session import close, connect


@pytest.fixture(scope="session")
def live_services() -> None:
    """`capillaries services up` (idempotent); services are left running."""
    cassandra.up()
    rabbitmq.up()


@pytest.fixture(scope="module")
def session(live_services: None) -> Iterator[Session]:
    s = connect(cassandra_settings())
    yield s
    close(s)
