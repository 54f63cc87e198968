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
_FALSE = ("0", "false", "no")


@dataclass(frozen=True)
class CassandraSettings:
    hosts: tuple[str, ...] = (DEFAULT_CASSANDRA_HOST,)
    port: int = DEFAULT_CASSANDRA_PORT
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    # TLS: a CA bundle turns TLS on; client certificate/key for mutual TLS.
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_verify_hostname: bool = True
    # Replication used when a keyspace is created (CQL map literal).
    replication: str = "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    # Write requests in flight per worker process (each an UNLOGGED batch of up to 10 inserts). Measured on one
    # node (docs/performance.md): 256 loads 13-50% faster than 64 and costs Cassandra less CPU per row.
    writer_concurrency: int = 256
    external: bool = False


@dataclass(frozen=True)
class AmqpSettings:
    url: str = field(default=DEFAULT_AMQP_URL, repr=False)
    queue: str = "capillaries"
    # Delay before a "not ready yet" or transiently failed batch is redelivered.
    retry_delay_ms: int = 2000
    external: bool = False


def file_roots(env: dict[str, str] | None = None) -> tuple[str, ...]:
    """Folders that scripts may read and write under (`CAPILLARIES_FILE_ROOTS`, separated by `os.pathsep`).

    Empty means no restriction. Paths are compared after resolving symlinks and `..`.
    """
    e = os.environ if env is None else env
    raw = e.get("CAPILLARIES_FILE_ROOTS", "")
    return tuple(os.path.realpath(r) for r in raw.split(os.pathsep) if r.strip())


def cassandra_settings(env: dict[str, str] | None = None) -> CassandraSettings:
    e = os.environ if env is None else env
    hosts = e.get("CAPILLARIES_CASSANDRA_HOSTS", "")
    return CassandraSettings(
        hosts=tuple(h.strip() for h in hosts.split(",") if h.strip()) or (DEFAULT_CASSANDRA_HOST,),
        port=int(e.get("CAPILLARIES_CASSANDRA_PORT", DEFAULT_CASSANDRA_PORT)),
        username=e.get("CAPILLARIES_CASSANDRA_USERNAME") or None,
        password=e.get("CAPILLARIES_CASSANDRA_PASSWORD") or None,
        tls_ca=e.get("CAPILLARIES_CASSANDRA_TLS_CA") or None,
        tls_cert=e.get("CAPILLARIES_CASSANDRA_TLS_CERT") or None,
        tls_key=e.get("CAPILLARIES_CASSANDRA_TLS_KEY") or None,
        tls_verify_hostname=e.get("CAPILLARIES_CASSANDRA_TLS_VERIFY_HOSTNAME", "true").lower() not in _FALSE,
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
