"""Fixtures for store integration tests: one session per module, throw-away keyspaces with random names."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from cassandra.cluster import Session

from capillaries_provider.config import cassandra_settings
from capillaries_provider.store.session import close, connect, drop_keyspace, ensure_keyspace
from capillaries_provider.store.workflow import WorkflowStore


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    s = connect(cassandra_settings())
    yield s
    close(s)


def _new_keyspace(session: Session) -> str:
    ks = f"test_store_{uuid.uuid4().hex[:12]}"
    ensure_keyspace(session, ks, cassandra_settings().replication)
    return ks


@pytest.fixture
def keyspace(session: Session) -> Iterator[str]:
    ks = _new_keyspace(session)
    yield ks
    drop_keyspace(session, ks)


@pytest.fixture
def wf(session: Session, keyspace: str) -> WorkflowStore:
    store = WorkflowStore(session, keyspace)
    store.create_tables()
    return store
