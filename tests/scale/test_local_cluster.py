"""A 3-node Cassandra cluster and a 3-node RabbitMQ cluster on this machine (tests/scale/conftest.py), losing a
node each: the services and settings themselves, without a run."""

from __future__ import annotations

import os
import signal
import time
import uuid

import pika
import pytest
from cassandra import OperationTimedOut, ReadTimeout

from capillaries_provider.services.process import read_pid
from tests.scale.conftest import CASSANDRA_HOSTS, NODES, services

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


def test_rf3_quorum_writes_and_reads_go_on_when_a_node_is_killed_and_it_rejoins(
    cluster_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from capillaries_provider.config import cassandra_settings
    from capillaries_provider.services import cassandra
    from capillaries_provider.store.session import close, connect

    monkeypatch.setenv("CAPILLARIES_STATE_DIR", cluster_env["CAPILLARIES_STATE_DIR"])
    monkeypatch.setenv("CAPILLARIES_CASSANDRA_HOSTS", CASSANDRA_HOSTS)
    monkeypatch.setenv("CAPILLARIES_CASSANDRA_REPLICATION_FACTOR", "3")
    monkeypatch.setenv("CAPILLARIES_CASSANDRA_CONSISTENCY", "QUORUM")
    settings = cassandra_settings()
    session = connect(settings)
    ks = f"cl_{uuid.uuid4().hex[:8]}"
    try:
        hosts = session.cluster.metadata.all_hosts()  # the ring as the driver learnt it from system.peers
        assert sorted((h.address, h.is_up) for h in hosts) == [(f"127.0.0.{n}", True) for n in range(1, NODES + 1)]
        session.execute(f"CREATE KEYSPACE {ks} WITH replication = {settings.replication}")
        session.execute(f"CREATE TABLE {ks}.t (id int PRIMARY KEY, v text)")
        insert = session.prepare(f"INSERT INTO {ks}.t (id, v) VALUES (?, ?)")
        for i in range(500):
            session.execute(insert, (i, f"v{i}"))
        monkeypatch.delenv("CAPILLARIES_CASSANDRA_HOSTS")  # services code manages the local nodes
        pid = read_pid(cassandra.node_home(NODES) / "cassandra.pid")
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        for i in range(500, 1000):  # a quorum of 2 of 3 replicas is still there
            session.execute(insert, (i, f"v{i}"))
        # A QUORUM read may still pick the dead replica until gossip convicts it (phi accrual, seconds): the read
        # times out and is retried, as the engine's reads are; it must then see every row.
        killed, rows = time.monotonic(), None
        while rows is None:
            try:
                rows = list(session.execute(f"SELECT id, v FROM {ks}.t"))
            except (ReadTimeout, OperationTimedOut):
                assert time.monotonic() - killed < 90, "reads did not resume within 90 s of the kill"
                time.sleep(1)
        print(f"QUORUM reads answered {time.monotonic() - killed:.1f} s after the kill")
        assert sorted((r["id"], r["v"]) for r in rows) == [(i, f"v{i}") for i in range(1000)]
        rejoined = services("up", env=cluster_env)
        assert rejoined.returncode == 0, rejoined.stdout + rejoined.stderr
        assert f"Cassandra 5.0.8 up at 127.0.0.{NODES}:9042" in rejoined.stdout
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {ks}")
        close(session)


def test_a_quorum_queue_keeps_every_message_when_a_broker_node_is_killed(cluster_env: dict[str, str]) -> None:
    from capillaries_provider.services import rabbitmq

    queue = f"cl_{uuid.uuid4().hex[:8]}"
    conn = pika.BlockingConnection(pika.URLParameters("amqp://guest:guest@127.0.0.1:5672/%2F"))
    channel = conn.channel()
    channel.confirm_delivery()
    channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
    for i in range(200):
        channel.basic_publish("", queue, str(i).encode(), pika.BasicProperties(delivery_mode=2), mandatory=True)
    conn.close()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CAPILLARIES_STATE_DIR", cluster_env["CAPILLARIES_STATE_DIR"])
        pid = read_pid(rabbitmq.node_home(NODES) / "rabbitmq.pid")  # leads the node's process group
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    time.sleep(2)
    conn = pika.BlockingConnection(pika.URLParameters("amqp://guest:guest@127.0.0.1:5672/%2F"))
    try:
        channel = conn.channel()
        got: list[int] = []
        deadline = time.monotonic() + 60
        while len(got) < 200 and time.monotonic() < deadline:
            method, _, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                time.sleep(0.2)
                continue
            got.append(int(body))
        assert sorted(got) == list(range(200))
        channel.queue_delete(queue)
    finally:
        conn.close()
    rejoined = services("up", env=cluster_env)
    assert rejoined.returncode == 0, rejoined.stdout + rejoined.stderr
    assert f"RabbitMQ 3.10.8 up at 127.0.0.1:{5671 + NODES}" in rejoined.stdout
