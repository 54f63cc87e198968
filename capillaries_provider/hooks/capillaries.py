"""Cassandra and RabbitMQ access for Airflow tasks and triggers, configured only from Airflow connections.

Two connections: a Cassandra connection of the Cassandra provider's type `cassandra` (host = comma-separated contact
points, port, login/password) and a RabbitMQ connection of our type `capillaries_amqp` (host, port, login/password,
schema = virtual host, extras `queue` and `retry_delay_ms`). Secrets are read from the connection when a task or a
trigger runs, never at parse time, and never logged (the settings dataclasses keep them out of `repr`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

from airflow.sdk import BaseHook
from cassandra.cluster import Session

from capillaries_provider.config import AmqpSettings, CassandraSettings, consistency_setting, replication_setting
from capillaries_provider.queue.publisher import Publisher
from capillaries_provider.store.session import close, connect
from capillaries_provider.worker.backend import CassandraBackend

DEFAULT_CASSANDRA_CONN_ID = "cassandra_default"
DEFAULT_AMQP_CONN_ID = "capillaries_amqp_default"
AMQP_CONN_TYPE = "capillaries_amqp"


def _extra(conn: Any) -> dict[str, Any]:
    extra = conn.extra_dejson if conn.extra else {}
    return dict(extra) if isinstance(extra, Mapping) else {}


def _extra_field(extra: Mapping[str, Any], conn_type: str, name: str) -> Any:
    """A custom field as the UI stores it (`extra__<type>__<name>`) or as written by hand (`<name>`)."""
    value = extra.get(name)
    if value in (None, ""):
        value = extra.get(f"extra__{conn_type}__{name}")
    return None if value == "" else value


def cassandra_settings_from_connection(conn: Any) -> CassandraSettings:
    """CassandraSettings from a `cassandra` connection; the optional extras `replication` (or `replication_factor`),
    `consistency`, `local_dc` and `writer_concurrency` mean what the workers' CAPILLARIES_CASSANDRA_* variables
    mean, and are checked by the same functions."""
    extra = _extra(conn)
    hosts = tuple(h.strip() for h in (conn.host or "").split(",") if h.strip())
    if not hosts:
        raise ValueError(f"Cassandra connection {conn.conn_id!r} has no host")

    def field(name: str) -> str | None:
        value = _extra_field(extra, "cassandra", name)
        return None if value is None else str(value)

    def named(name: str) -> str:
        return f"extra {name!r} of Cassandra connection {conn.conn_id!r}"

    concurrency = field("writer_concurrency")
    return CassandraSettings(
        hosts=hosts,
        port=int(conn.port or 9042),
        username=conn.login or None,
        password=conn.password or None,
        replication=replication_setting(
            field("replication"),
            field("replication_factor"),
            replication_name=named("replication"),
            factor_name=named("replication_factor"),
        ),
        consistency=consistency_setting(field("consistency"), name=named("consistency")),
        local_dc=(field("local_dc") or "").strip() or None,
        writer_concurrency=int(concurrency) if concurrency else CassandraSettings.writer_concurrency,
        external=True,
    )


def amqp_settings_from_connection(conn: Any) -> AmqpSettings:
    """AmqpSettings from a `capillaries_amqp` connection; `schema` is the virtual host ('/' when empty)."""
    extra = _extra(conn)
    if not conn.host:
        raise ValueError(f"RabbitMQ connection {conn.conn_id!r} has no host")
    user = quote(conn.login or "guest", safe="")
    password = quote(conn.password or "guest", safe="")
    vhost = quote(conn.schema or "/", safe="")
    scheme = (
        "amqps" if str(_extra_field(extra, AMQP_CONN_TYPE, "ssl") or "").lower() in ("1", "true", "yes") else "amqp"
    )
    queue = _extra_field(extra, AMQP_CONN_TYPE, "queue")
    delay = _extra_field(extra, AMQP_CONN_TYPE, "retry_delay_ms")
    return AmqpSettings(
        url=f"{scheme}://{user}:{password}@{conn.host}:{int(conn.port or 5672)}/{vhost}",
        queue=str(queue) if queue else AmqpSettings.queue,
        retry_delay_ms=int(delay) if delay else AmqpSettings.retry_delay_ms,
        external=True,
    )


class CapillariesHook(BaseHook):
    """Sessions and confirmed publishers for one Cassandra and one RabbitMQ connection.

    Nothing is read or opened in `__init__`, so creating the hook is free; connections are looked up on first use.
    """

    conn_name_attr = "amqp_conn_id"
    default_conn_name = DEFAULT_AMQP_CONN_ID
    conn_type = AMQP_CONN_TYPE
    hook_name = "Capillaries RabbitMQ"

    def __init__(
        self, cassandra_conn_id: str = DEFAULT_CASSANDRA_CONN_ID, amqp_conn_id: str = DEFAULT_AMQP_CONN_ID
    ) -> None:
        super().__init__()
        self.cassandra_conn_id = cassandra_conn_id
        self.amqp_conn_id = amqp_conn_id

    def cassandra_settings(self) -> CassandraSettings:
        return cassandra_settings_from_connection(self.get_connection(self.cassandra_conn_id))

    def amqp_settings(self) -> AmqpSettings:
        return amqp_settings_from_connection(self.get_connection(self.amqp_conn_id))

    async def acassandra_settings(self) -> CassandraSettings:
        """For triggers: reads the connection without blocking the triggerer loop."""
        return cassandra_settings_from_connection(await self.aget_connection(self.cassandra_conn_id))

    @contextlib.contextmanager
    def session(self, keyspace: str | None = None) -> Iterator[Session]:
        """A Cassandra session (closed on exit) for the task's short-lived work."""
        session = connect(self.cassandra_settings(), keyspace)
        try:
            yield session
        finally:
            close(session)

    @contextlib.contextmanager
    def publisher(self) -> Iterator[Publisher]:
        """A publisher with confirms: a message counts as sent only once the broker has it."""
        with Publisher(self.amqp_settings()) as pub:
            yield pub

    @contextlib.contextmanager
    def backend(self, *, publish: bool = True) -> Iterator[CassandraBackend]:
        """The engine's Cassandra+RabbitMQ backend for run control; `publish=False` never reads the RabbitMQ
        connection (the backend opens its publisher only when something is published)."""
        amqp = self.amqp_settings() if publish else AmqpSettings()
        backend = CassandraBackend(self.cassandra_settings(), amqp)
        try:
            yield backend
        finally:
            backend.close()

    def get_conn(self) -> Session:
        """Airflow's generic accessor: a new Cassandra session; the caller closes it (`store.session.close`)."""
        return connect(self.cassandra_settings())
