"""Connection settings for Cassandra and RabbitMQ, read from the environment.

Setting `CAPILLARIES_CASSANDRA_HOSTS` or `CAPILLARIES_AMQP_URL` points the project at existing external services;
`capillaries services up` then starts nothing for that service. Secrets come only from the environment (or, in
Airflow, from connections) and are never logged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_CASSANDRA_HOST = "127.0.0.1"
DEFAULT_CASSANDRA_PORT = 9042
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


@dataclass(frozen=True)
class CassandraSettings:
    hosts: tuple[str, ...] = (DEFAULT_CASSANDRA_HOST,)
    port: int = DEFAULT_CASSANDRA_PORT
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    # Replication used when a keyspace is created (CQL map literal).
    replication: str = "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    # Concurrent in-flight writes per worker process.
    writer_concurrency: int = 64
    external: bool = False


@dataclass(frozen=True)
class AmqpSettings:
    url: str = field(default=DEFAULT_AMQP_URL, repr=False)
    queue: str = "capillaries"
    # Delay before a "not ready yet" or transiently failed batch is redelivered.
    retry_delay_ms: int = 2000
    external: bool = False


def cassandra_settings(env: dict[str, str] | None = None) -> CassandraSettings:
    e = os.environ if env is None else env
    hosts = e.get("CAPILLARIES_CASSANDRA_HOSTS", "")
    return CassandraSettings(
        hosts=tuple(h.strip() for h in hosts.split(",") if h.strip()) or (DEFAULT_CASSANDRA_HOST,),
        port=int(e.get("CAPILLARIES_CASSANDRA_PORT", DEFAULT_CASSANDRA_PORT)),
        username=e.get("CAPILLARIES_CASSANDRA_USERNAME") or None,
        password=e.get("CAPILLARIES_CASSANDRA_PASSWORD") or None,
        replication=e.get("CAPILLARIES_CASSANDRA_REPLICATION", CassandraSettings.replication),
        writer_concurrency=int(e.get("CAPILLARIES_CASSANDRA_WRITER_CONCURRENCY", CassandraSettings.writer_concurrency)),
        external=bool(hosts.strip()),
    )


def amqp_settings(env: dict[str, str] | None = None) -> AmqpSettings:
    e = os.environ if env is None else env
    url = e.get("CAPILLARIES_AMQP_URL", "")
    return AmqpSettings(
        url=url or DEFAULT_AMQP_URL,
        queue=e.get("CAPILLARIES_AMQP_QUEUE", AmqpSettings.queue),
        retry_delay_ms=int(e.get("CAPILLARIES_AMQP_RETRY_DELAY_MS", AmqpSettings.retry_delay_ms)),
        external=bool(url),
    )
