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
DEFAULT_CASSANDRA_CONSISTENCY = "LOCAL_QUORUM"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
DEFAULT_METRICS_ADDRESS = "127.0.0.1"
_FALSE = ("0", "false", "no")

# The cassandra-driver ConsistencyLevel names a statement may both read and write at: ANY is write-only, SERIAL and
# LOCAL_SERIAL serve lightweight transactions (derived from this level, see store.session.serial_consistency).
# Spelled out so that this module, which the script layer imports, stays free of the driver; a unit test keeps the
# list equal to the driver's.
CONSISTENCY_LEVELS = ("ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM", "EACH_QUORUM", "LOCAL_ONE")


def simple_replication(factor: int) -> str:
    """The CQL replication map of `CAPILLARIES_CASSANDRA_REPLICATION_FACTOR`: one data centre, `factor` copies."""
    return f"{{'class': 'SimpleStrategy', 'replication_factor': {factor}}}"


def replication_setting(replication: str | None, factor: str | None, *, replication_name: str, factor_name: str) -> str:
    """The keyspace replication map from either a CQL map literal or a replication factor (default 1).

    The names are those the user set (environment variables or connection extras), so errors point at them.
    """
    replication, factor = (replication or "").strip(), (factor or "").strip()
    if replication and factor:
        raise ValueError(f"set either {replication_name} or {factor_name}, not both")
    if replication:
        return replication
    if not factor:
        return simple_replication(1)
    try:
        value = int(factor)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{factor_name} must be a positive integer, got {factor!r}")
    return simple_replication(value)


def consistency_setting(value: str | None, *, name: str) -> str:
    """The read/write consistency level name (case-insensitive; default LOCAL_QUORUM)."""
    if not value:
        return DEFAULT_CASSANDRA_CONSISTENCY
    level = value.strip().upper()
    if level not in CONSISTENCY_LEVELS:
        valid = ", ".join(CONSISTENCY_LEVELS)
        raise ValueError(f"{name} is {value!r}, not a consistency level for reads and writes; use one of {valid}")
    return level


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
    replication: str = simple_replication(1)
    # Consistency of every read and write (a ConsistencyLevel name); LWTs derive theirs from it.
    consistency: str = DEFAULT_CASSANDRA_CONSISTENCY
    # Data centre whose nodes coordinate requests; None lets the driver take the contact points' DC.
    local_dc: str | None = None
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
        replication=replication_setting(
            e.get("CAPILLARIES_CASSANDRA_REPLICATION"),
            e.get("CAPILLARIES_CASSANDRA_REPLICATION_FACTOR"),
            replication_name="CAPILLARIES_CASSANDRA_REPLICATION",
            factor_name="CAPILLARIES_CASSANDRA_REPLICATION_FACTOR",
        ),
        consistency=consistency_setting(
            e.get("CAPILLARIES_CASSANDRA_CONSISTENCY"), name="CAPILLARIES_CASSANDRA_CONSISTENCY"
        ),
        local_dc=e.get("CAPILLARIES_CASSANDRA_LOCAL_DC", "").strip() or None,
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


@dataclass(frozen=True)
class MetricsSettings:
    """Where `capillaries worker` serves its group's Prometheus metrics; no port means no endpoint.

    Off unless asked for: several worker groups on one machine (the tests start many) would clash on any fixed
    default port. Loopback by default, like Capillaries' other local services; a scraper on another machine needs
    `CAPILLARIES_METRICS_ADDRESS=0.0.0.0` (or the host's address).
    """

    port: int | None = None
    address: str = DEFAULT_METRICS_ADDRESS


def metrics_port(value: str | None, *, name: str) -> int | None:
    """A TCP port to listen on, or None for unset/0 (off, as Go's `prometheus_exporter_port`)."""
    if value is None or not value.strip():
        return None
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ValueError(f"{name} must be a TCP port number (0 or unset: no metrics endpoint), got {value!r}")
    return port or None


def metrics_settings(env: dict[str, str] | None = None) -> MetricsSettings:
    e = os.environ if env is None else env
    return MetricsSettings(
        port=metrics_port(e.get("CAPILLARIES_METRICS_PORT"), name="CAPILLARIES_METRICS_PORT"),
        address=e.get("CAPILLARIES_METRICS_ADDRESS", "").strip() or DEFAULT_METRICS_ADDRESS,
    )
