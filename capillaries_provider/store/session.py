"""Cassandra connection and keyspace lifecycle.

Every statement runs at the configured consistency (`CAPILLARIES_CASSANDRA_CONSISTENCY`, default LOCAL_QUORUM),
LWTs at the matching serial level (`serial_consistency`); requests are routed token-aware within the local data
centre, so single-partition reads and writes go straight to a local replica.
"""

from __future__ import annotations

import ssl
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from cassandra import ConsistencyLevel
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.policies import DCAwareRoundRobinPolicy, ExponentialReconnectionPolicy, RetryPolicy, TokenAwarePolicy
from cassandra.query import PreparedStatement, dict_factory, tuple_factory

from capillaries_provider import telemetry
from capillaries_provider.config import CassandraSettings
from capillaries_provider.retry import CASSANDRA_SCHEMA, cassandra_transient
from capillaries_provider.script.names import validate_keyspace_name

# A node that was down is retried at most this often: the driver's default backoff grows to 10 minutes, so a
# worker would sit idle long after a Cassandra restart.
_RECONNECT = ExponentialReconnectionPolicy(base_delay=0.5, max_delay=5.0)

# After a schema change the driver waits this long for every live node to report the same schema version (its
# default, 10 s, ran out on a loaded 3-node cluster just after a node rejoined: the run's next statement, sent to
# that node, failed with "keyspace ... does not exist").
SCHEMA_AGREEMENT_WAIT_S = 60

# Profile for bulk reads: plain tuples are several times cheaper to build than dicts or named tuples.
TUPLES = "tuples"

_PREPARED: weakref.WeakKeyDictionary[Session, dict[str, PreparedStatement]] = weakref.WeakKeyDictionary()
_PREPARED_LOCK = threading.Lock()


def connect(
    settings: CassandraSettings,
    keyspace: str | None = None,
    *,
    request_timeout_s: float = 30.0,
    connect_timeout_s: float = 10.0,
) -> Session:
    """Open a session; close it with `close(session)` (it owns its Cluster).

    Retries on timeouts are left to the callers (which know whether a statement is idempotent), so the driver's
    default RetryPolicy is kept: it only retries a read timeout once when enough replicas answered.
    """
    if keyspace is not None:
        validate_keyspace_name(keyspace)
    profiles = {
        EXEC_PROFILE_DEFAULT: execution_profile(settings, dict_factory, request_timeout_s),
        TUPLES: execution_profile(settings, tuple_factory, request_timeout_s),
    }
    auth = (
        PlainTextAuthProvider(username=settings.username, password=settings.password or "")
        if settings.username
        else None
    )
    cluster = Cluster(
        contact_points=list(settings.hosts),
        port=settings.port,
        auth_provider=auth,
        ssl_context=tls_context(settings),
        execution_profiles=profiles,
        connect_timeout=connect_timeout_s,
        control_connection_timeout=connect_timeout_s,
        reconnection_policy=_RECONNECT,
        max_schema_agreement_wait=SCHEMA_AGREEMENT_WAIT_S,
    )
    try:
        return cluster.connect(keyspace)
    except BaseException:
        cluster.shutdown()
        raise


def execution_profile(
    settings: CassandraSettings, row_factory: Callable[..., Any], request_timeout_s: float
) -> ExecutionProfile:
    """Routing and consistency of every statement: token-aware within the local data centre (`local_dc`; the
    driver takes the contact points' DC when it is not set), at the configured consistency."""
    level = ConsistencyLevel.name_to_value[settings.consistency]
    return ExecutionProfile(
        load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=settings.local_dc or "")),
        retry_policy=RetryPolicy(),
        consistency_level=level,
        serial_consistency_level=serial_consistency(level),
        request_timeout=request_timeout_s,
        row_factory=row_factory,
    )


def serial_consistency(level: int) -> int:
    """The Paxos level of LWTs (unique indexes, run counter) for a read/write `level`.

    A LOCAL_ level means "never wait on another data centre"; SERIAL would make every LWT need a quorum of all
    data centres and fail while one is unreachable, so LOCAL_ levels get LOCAL_SERIAL. In one data centre both
    are the same. The price: LWTs are linearizable only within the DC, so the workers of one keyspace must share
    a DC, or the consistency must be a non-LOCAL level, which keeps SERIAL.
    """
    local = level in (ConsistencyLevel.LOCAL_ONE, ConsistencyLevel.LOCAL_QUORUM)
    return ConsistencyLevel.LOCAL_SERIAL if local else ConsistencyLevel.SERIAL


def tls_context(settings: CassandraSettings) -> ssl.SSLContext | None:
    """TLS to Cassandra when a CA bundle is configured (`CAPILLARIES_CASSANDRA_TLS_CA`), with an optional client
    certificate for mutual TLS; None means plain connections."""
    if not settings.tls_ca:
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=settings.tls_ca)
    context.check_hostname = settings.tls_verify_hostname
    if settings.tls_cert:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    return context


def prepare_cached(session: Session, cql: str) -> PreparedStatement:
    """Prepare `cql` once per session: batches of the same node reuse the statements instead of re-preparing."""
    with _PREPARED_LOCK:
        cache = _PREPARED.setdefault(session, {})
        stmt = cache.get(cql)
    if stmt is None:
        stmt = session.prepare(cql)
        with _PREPARED_LOCK:
            cache[cql] = stmt
    return stmt


def close(session: Session) -> None:
    """Shut down the session and the cluster object behind it (threads, connections)."""
    session.cluster.shutdown()


SCHEMA_TIMEOUT_S = 120.0


def execute_schema(session: Session, cql: str) -> None:
    """Run an idempotent schema statement (`IF [NOT] EXISTS`) with a long timeout, retrying transient errors.

    Schema changes are slow on a busy cluster; a timed-out statement may still be applied, which is harmless to
    repeat because every statement we send is conditional.
    """
    CASSANDRA_SCHEMA.call(
        lambda: session.execute(cql, timeout=SCHEMA_TIMEOUT_S),
        cassandra_transient,
        on_retry=lambda exc, delay: telemetry.cassandra_retry(exc),
    )


def ensure_keyspace(session: Session, ks: str, replication: str) -> None:
    """Create the keyspace if missing; `replication` is a CQL map literal from trusted configuration."""
    validate_keyspace_name(ks)
    execute_schema(session, f"CREATE KEYSPACE IF NOT EXISTS {ks} WITH REPLICATION = {replication}")


def keyspace_exists(session: Session, ks: str) -> bool:
    rows = session.execute("SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = %s", (ks,)).all()
    return bool(rows)


def drop_keyspace(session: Session, ks: str, *, wait_s: float = 120.0, poll_s: float = 0.5) -> None:
    """Drop the keyspace and wait until the schema no longer lists it (Go polls 24 x 5 s)."""
    validate_keyspace_name(ks)
    execute_schema(session, f"DROP KEYSPACE IF EXISTS {ks}")
    deadline = time.monotonic() + wait_s
    while keyspace_exists(session, ks):
        if time.monotonic() > deadline:
            raise TimeoutError(f"keyspace {ks} still listed in system_schema.keyspaces {wait_s:.0f} s after DROP")
        time.sleep(poll_s)


def list_keyspaces(session: Session) -> list[str]:
    """User keyspaces: everything except names starting with `system` (webapi `GET /ks`)."""
    rows = session.execute("SELECT keyspace_name FROM system_schema.keyspaces").all()
    return sorted(r["keyspace_name"] for r in rows if not r["keyspace_name"].startswith("system"))
