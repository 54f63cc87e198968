"""The local services are real: CQL round trip on Cassandra 5.0, AMQP with publisher confirms on RabbitMQ, SQL on the
PostgreSQL that holds the local Airflow's metadata."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pika
import psycopg2
import pytest
from cassandra.cluster import Cluster

from capillaries_provider.config import AmqpSettings, CassandraSettings


def _capillaries(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "capillaries_provider.cli.main", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)


def test_cassandra_keyspace_table_insert_select_drop(live_services: tuple[CassandraSettings, AmqpSettings]) -> None:
    settings = live_services[0]
    ks = f"t_{uuid.uuid4().hex[:12]}"
    cluster = Cluster(list(settings.hosts), port=settings.port)
    session = cluster.connect()
    try:
        version = session.execute("SELECT release_version FROM system.local").one().release_version
        assert version.startswith("5.0.")
        session.execute(f"CREATE KEYSPACE {ks} WITH replication = {settings.replication}")
        session.execute(f"CREATE TABLE {ks}.t (id bigint PRIMARY KEY, name text, amount decimal)")
        insert = session.prepare(f"INSERT INTO {ks}.t (id, name, amount) VALUES (?, ?, ?)")
        from decimal import Decimal

        for i in range(3):
            session.execute(insert, (i, f"row{i}", Decimal(f"{i}.25")))
        rows = sorted(session.execute(f"SELECT id, name, amount FROM {ks}.t"))
        assert [(r.id, r.name, r.amount) for r in rows] == [
            (0, "row0", Decimal("0.25")),
            (1, "row1", Decimal("1.25")),
            (2, "row2", Decimal("2.25")),
        ]
        session.execute(f"DROP KEYSPACE {ks}")
        left = session.execute("SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name=%s", (ks,))
        assert left.one() is None
    finally:
        cluster.shutdown()


def test_rabbitmq_durable_queue_confirms_consume_ack(live_services: tuple[CassandraSettings, AmqpSettings]) -> None:
    queue = f"t_{uuid.uuid4().hex[:12]}"
    conn = pika.BlockingConnection(pika.URLParameters(live_services[1].url))
    try:
        channel = conn.channel()
        channel.confirm_delivery()
        channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
        for i in range(3):
            # With confirms on, basic_publish raises if the broker nacks or cannot route (mandatory).
            channel.basic_publish(
                "",
                queue,
                f"msg{i}".encode(),
                pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent),
                mandatory=True,
            )
        got = []
        for _ in range(3):
            method, _props, body = channel.basic_get(queue, auto_ack=False)
            assert method is not None
            got.append(body.decode())
            channel.basic_ack(method.delivery_tag)
        assert got == ["msg0", "msg1", "msg2"]
        assert channel.basic_get(queue, auto_ack=False) == (None, None, None)
        with pytest.raises(pika.exceptions.UnroutableError):
            channel.basic_publish("", f"{queue}-missing", b"x", mandatory=True)
        channel.queue_delete(queue)
    finally:
        conn.close()


def test_services_up_is_idempotent_and_status_reports_versions() -> None:
    first = _capillaries("services", "up")
    second = _capillaries("services", "up")
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    status = _capillaries("services", "status")
    assert status.returncode == 0
    assert "Cassandra 5.0." in status.stdout and "127.0.0.1:9042" in status.stdout
    assert "RabbitMQ 3." in status.stdout and "127.0.0.1:5672" in status.stdout
    assert "PostgreSQL 1" in status.stdout and "127.0.0.1:5433/airflow" in status.stdout
    # The second `up` reused the first one's processes: same pids reported.
    assert [line.split("[")[0] for line in first.stdout.splitlines()] == [
        line.split("[")[0] for line in second.stdout.splitlines()
    ]


def test_status_exits_nonzero_when_a_service_is_down() -> None:
    env = {**os.environ, "CAPILLARIES_AMQP_URL": "amqp://guest:guest@127.0.0.1:5999/%2F"}
    status = _capillaries("services", "status", env=env)
    assert status.returncode == 1
    assert "RabbitMQ down at 127.0.0.1:5999" in status.stdout
    assert "Cassandra 5.0." in status.stdout


def test_up_with_unreachable_external_service_fails_with_one_line() -> None:
    env = {**os.environ, "CAPILLARIES_CASSANDRA_HOSTS": "127.0.0.1", "CAPILLARIES_CASSANDRA_PORT": "9999"}
    done = _capillaries("services", "up", "--only", "cassandra", env=env)
    assert done.returncode == 1
    assert done.stderr.strip() == "error: external Cassandra at 127.0.0.1:9999 does not answer CQL"


def test_postgres_fresh_state_up_sql_down(tmp_path: Path) -> None:
    """A cluster of its own (fresh state folder, another port): initdb, a table round trip as `airflow`, then down."""
    env = {**os.environ, "CAPILLARIES_STATE_DIR": str(tmp_path), "CAPILLARIES_POSTGRES_PORT": "5439"}
    env.pop("CAPILLARIES_AIRFLOW_DB_URL", None)
    up = _capillaries("services", "up", "--only", "postgres", env=env)
    try:
        assert up.returncode == 0, up.stderr
        assert up.stdout.startswith("PostgreSQL 1") and "127.0.0.1:5439/airflow (started by capillaries" in up.stdout
        url = f"postgresql://airflow:{(tmp_path / 'postgres' / 'password').read_text()}@127.0.0.1:5439/airflow"
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE t (id int PRIMARY KEY, name text)")
            cur.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
            cur.execute("SELECT name FROM t ORDER BY id")
            assert cur.fetchall() == [("a",), ("b",)]
            cur.execute("SHOW listen_addresses")
            assert cur.fetchone() == ("127.0.0.1",)
        conn.close()
        with pytest.raises(psycopg2.OperationalError):
            psycopg2.connect(url.replace("airflow:", "airflow:wrong", 1), connect_timeout=3)
    finally:
        down = _capillaries("services", "down", "--only", "postgres", env=env)
    assert down.stdout.startswith("PostgreSQL stopped (pid ")
    status = _capillaries("services", "status", "--only", "postgres", env=env)
    assert status.returncode == 1
    assert status.stdout.strip() == "PostgreSQL down at 127.0.0.1:5439/airflow: no connection"


def test_external_airflow_db_unreachable_fails_with_one_line() -> None:
    env = {**os.environ, "CAPILLARIES_AIRFLOW_DB_URL": "postgresql+psycopg2://u:p@127.0.0.1:5998/x"}
    done = _capillaries("services", "up", "--only", "postgres", env=env)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: external PostgreSQL at 127.0.0.1:5998/x (CAPILLARIES_AIRFLOW_DB_URL) does not accept connections"
    )
