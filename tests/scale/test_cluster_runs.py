"""Runs on the local 3+3 clusters by two worker groups that share no disk, losing a part in the middle of a run.

Each worker group is what a separate worker host would be: its own state folder, temp folder and file roots,
reaching the others only through Cassandra (all three contact points), RabbitMQ (node 1) and S3. The script reads
FILES input files from S3 into a table, doubles a column in a table_table node of BATCHES batches and writes one
CSV back to S3; its output is known row for row, so every faulty run must give exactly it: no lost and no
duplicate row. (portfolio_quicktest on RF 3 took 277 s per run here: too slow for four runs in CI.) Each fault test
checks that its fault met work in flight: the run had batches done before it and batches left to do after it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pika
import pytest
from cassandra.cluster import Session

from capillaries_provider.config import amqp_settings, cassandra_settings
from capillaries_provider.queue.topology import declare_topology
from capillaries_provider.services import cassandra, rabbitmq
from capillaries_provider.services.process import read_pid
from capillaries_provider.store.session import close, connect
from tests.remote.servers import S3Server
from tests.scale.conftest import CASSANDRA_HOSTS, NODES, services

pytestmark = [pytest.mark.integration, pytest.mark.fault]

BUCKET = "capi-cluster-runs"
FILES, ROWS_PER_FILE, BATCHES = 8, 3000, 8
RUN_WAIT_S = 600


@dataclass
class WorkerGroup:
    """`capillaries worker --processes 1` as its own host would run it; `root` holds all of its local files."""

    name: str
    root: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    pids: set[int] = field(default_factory=set)

    @property
    def log(self) -> Path:
        return self.root / "worker.log"

    def start(self) -> None:
        env = {**self.env, "CAPILLARIES_STATE_DIR": str(self.root / "state"), "TMPDIR": str(self.root / "tmp")}
        env["CAPILLARIES_FILE_ROOTS"] = str(self.root / "files")  # a local path in a script is refused here
        for sub in ("state", "tmp", "files"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            cmd = [sys.executable, "-m", "capillaries_provider.cli.main", "worker", "--processes", "1"]
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def note_pids(self) -> None:
        """Remember the group's processes (batch history names a worker by its pid in `thread`)."""
        assert self.proc is not None
        found = subprocess.run(["pgrep", "-g", str(self.proc.pid)], capture_output=True, text=True, check=False)
        self.pids |= {int(p) for p in found.stdout.split()}

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.note_pids()
        os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture(scope="module")
def run_env(cluster_env: dict[str, str], s3_server: S3Server) -> dict[str, str]:
    """What every host here is given: the three contact points, RF 3 with QUORUM, S3 by the AWS chain, a queue."""
    env = {k: v for k, v in cluster_env.items() if not k.startswith("AWS_")}
    env.update(s3_server.env)
    env["CAPILLARIES_CASSANDRA_HOSTS"] = CASSANDRA_HOSTS
    env["CAPILLARIES_CASSANDRA_REPLICATION_FACTOR"] = str(NODES)
    env["CAPILLARIES_CASSANDRA_CONSISTENCY"] = "QUORUM"
    env["CAPILLARIES_AMQP_QUEUE"] = f"capillaries_cluster_tests_{uuid.uuid4().hex[:6]}"
    if BUCKET not in {b["Name"] for b in s3_server.client().list_buckets()["Buckets"]}:
        s3_server.make_bucket(BUCKET)
    return env


@pytest.fixture(scope="module")
def groups(run_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[WorkerGroup]]:
    both = [WorkerGroup(name, tmp_path_factory.mktemp(f"host-{name}"), run_env) for name in ("a", "b")]
    for group in both:
        group.start()
    yield both
    for group in both:
        group.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def session(run_env: dict[str, str]) -> Iterator[Session]:
    s = connect(cassandra_settings(run_env))
    yield s
    close(s)


@pytest.fixture
def groups_running(groups: list[WorkerGroup]) -> list[WorkerGroup]:
    """Both groups, restarting any a previous test killed."""
    for group in groups:
        if group.proc is None or group.proc.poll() is not None:
            group.start()
    return groups


@dataclass
class Run:
    """One `run start --wait` of the case in a keyspace of its own, in the background."""

    base: str
    keyspace: str
    proc: subprocess.Popen[str]

    def finish(self) -> str:
        out, err = self.proc.communicate(timeout=RUN_WAIT_S + 120)
        assert self.proc.returncode == 0, f"{self.keyspace}: {out[-3000:]}\n{err[-3000:]}"
        return out


def _script(s3_server: S3Server, base: str) -> str:
    """read (FILES batches) -> calc (BATCHES batches) -> write, all on S3; returns the script's URL."""
    for f in range(FILES):
        ids = range(f * ROWS_PER_FILE, (f + 1) * ROWS_PER_FILE)
        text = "id,amount\n" + "".join(f"{i},{i % 97}\n" for i in ids)
        s3_server.put(BUCKET, f"{base}/in/part{f:02d}.csv", text.encode())
    int_field = {"type": "int"}
    script = {
        "nodes": {
            "read": {
                "type": "file_table",
                "r": {
                    "urls": [f"s3://{BUCKET}/{base}/in/part{f:02d}.csv" for f in range(FILES)],
                    "csv": {"hdr_line_idx": 0, "first_data_line_idx": 1},
                    "columns": {
                        "col_id": {"col_type": "int", "csv": {"col_hdr": "id"}},
                        "col_amount": {"col_type": "int", "csv": {"col_hdr": "amount"}},
                    },
                },
                "w": {
                    "name": "items",
                    "fields": {
                        "id": {"expression": "r.col_id", **int_field},
                        "amount": {"expression": "r.col_amount", **int_field},
                    },
                },
            },
            "calc": {
                "type": "table_table",
                "r": {"table": "items", "expected_batches_total": BATCHES},
                "w": {
                    "name": "doubled",
                    "fields": {
                        "id": {"expression": "r.id", **int_field},
                        "twice": {"expression": "r.amount * 2", **int_field},
                    },
                },
            },
            "write": {
                "type": "table_file",
                "r": {"table": "doubled"},
                "w": {
                    "url_template": f"s3://{BUCKET}/{base}/out/doubled.csv",
                    "columns": [
                        {"name": "id", "expression": "r.id", **int_field, "csv": {"header": "id", "format": "%d"}},
                        {
                            "name": "twice",
                            "expression": "r.twice",
                            **int_field,
                            "csv": {"header": "twice", "format": "%d"},
                        },
                    ],
                },
            },
        },
        "dependency_policies": _default_policy(),
    }
    s3_server.put(BUCKET, f"{base}/script.json", json.dumps(script).encode())
    return f"s3://{BUCKET}/{base}/script.json"


def _default_policy() -> dict[str, Any]:
    path = Path(__file__).parents[1] / "reliability" / "corpus" / "run_huge_field" / "script.json"
    policies: dict[str, Any] = json.loads(path.read_text())["dependency_policies"]
    return policies


def _start(env: dict[str, str], s3_server: S3Server) -> Run:
    base = f"cluster-{uuid.uuid4().hex[:8]}"
    script = _script(s3_server, base)
    keyspace = f"cluster_{uuid.uuid4().hex[:10]}"
    cmd = [sys.executable, "-m", "capillaries_provider.cli.main", "run", "start", "--keyspace", keyspace]
    cmd += ["--script", script, "--start-nodes", "read", "--wait", "--timeout", str(RUN_WAIT_S)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return Run(base, keyspace, proc)


def _batches(session: Session, keyspace: str) -> list[tuple[str, int, int, int]]:
    """(node, batch, status, thread) of every batch history row; [] before the run has created its tables."""
    try:
        rows = session.execute(f"SELECT script_node, batch_idx, status, thread FROM {keyspace}.wf_batch_history")
    except Exception:  # the keyspace or table is not there yet
        return []
    return [(r["script_node"], r["batch_idx"], r["status"], r["thread"]) for r in rows]


def _done(rows: list[tuple[str, int, int, int]]) -> set[tuple[str, int]]:
    return {(node, batch) for node, batch, status, _ in rows if status == 2}


def _wait_until_batches_done(session: Session, run: Run, count: int) -> set[tuple[str, int]]:
    """Block until `count` batches have succeeded and the run is still going; return those that had."""
    deadline = time.monotonic() + RUN_WAIT_S
    while True:
        done = _done(_batches(session, run.keyspace))
        if len(done) >= count:
            assert run.proc.poll() is None, "the run ended before the fault: nothing was in flight"
            return done
        assert run.proc.poll() is None, run.proc.communicate()
        assert time.monotonic() < deadline, f"only {len(done)} batches done"
        time.sleep(0.2)


def _assert_exact(
    run: Run, s3_server: S3Server, session: Session, done_at_fault: set[tuple[str, int]] | None = None
) -> None:
    """The output holds every row once with its value: what a clean run writes."""
    lines = s3_server.get(BUCKET, f"{run.base}/out/doubled.csv").decode().splitlines()
    assert lines[0] == "id,twice"
    assert sorted(lines[1:]) == sorted(f"{i},{i % 97 * 2}" for i in range(FILES * ROWS_PER_FILE))
    if done_at_fault is not None:  # the fault met a run with work done and work left to do
        assert done_at_fault < _done(_batches(session, run.keyspace))


def _drop(env: dict[str, str], keyspace: str) -> None:
    cmd = [sys.executable, "-m", "capillaries_provider.cli.main", "keyspace", "drop", keyspace]
    subprocess.run(cmd, env=env, capture_output=True, timeout=300, check=False)


def _assert_shared_nothing(groups: list[WorkerGroup], session: Session, keyspace: str) -> None:
    """Both groups took batches of the run, and neither left a file on its own disk: every output went through a
    temp file of the group's own, then to S3."""
    threads = {thread for *_, thread in _batches(session, keyspace)}
    for group in groups:
        assert threads & group.pids, f"group {group.name} did no batch"
        for local in ("files", "tmp"):
            assert [p for p in (group.root / local).rglob("*") if p.is_file()] == []


def test_a_cassandra_node_and_a_worker_group_killed_in_the_middle_at_rf3_cost_no_row(
    run_env: dict[str, str],
    cluster_env: dict[str, str],
    groups_running: list[WorkerGroup],
    session: Session,
    s3_server: S3Server,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two faults in one run (each run on RF 3 costs about a minute and a half here): worker group a and, right
    after it, Cassandra node 3 die. Group b, sharing no disk with a, finishes what was left with two replicas."""
    killed, survivor = groups_running
    run = _start(run_env, s3_server)
    try:
        done = _wait_until_batches_done(session, run, 5)
        survivor.note_pids()
        killed.kill()
        done_by_then = _done(_batches(session, run.keyspace))  # a batch may have finished since `done` was read
        monkeypatch.setenv("CAPILLARIES_STATE_DIR", cluster_env["CAPILLARIES_STATE_DIR"])
        pid = read_pid(cassandra.node_home(NODES) / "cassandra.pid")
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        run.finish()
        _assert_exact(run, s3_server, session, done)
        _assert_shared_nothing(groups_running, session, run.keyspace)
        rows = _batches(session, run.keyspace)
        later = {
            (node, batch, thread)
            for node, batch, status, thread in rows
            if status == 2 and (node, batch) not in done_by_then
        }
        assert later and {thread for *_, thread in later} <= survivor.pids  # what was left, the survivor did
    finally:
        rejoined = services("up", env=cluster_env)
        assert rejoined.returncode == 0, rejoined.stdout + rejoined.stderr
        _drop(run_env, run.keyspace)


def test_a_run_survives_the_queue_leader_broker_node_killed_with_batches_queued(
    run_env: dict[str, str],
    cluster_env: dict[str, str],
    groups_running: list[WorkerGroup],
    session: Session,
    s3_server: S3Server,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The clients use node 1; the quorum queues are declared through node 3 first, so node 3 leads them and its
    loss forces a leader election among the two that are left."""
    amqp = amqp_settings(run_env)
    conn = pika.BlockingConnection(pika.URLParameters(f"amqp://guest:guest@127.0.0.1:{5671 + NODES}/%2F"))
    try:
        channel = conn.channel()
        names = declare_topology(channel, f"{amqp.queue}_leader3", amqp.retry_delay_ms)
    finally:
        conn.close()
    env = {**run_env, "CAPILLARIES_AMQP_QUEUE": names.work}
    workers = [WorkerGroup(f"{g.name}3", g.root / "leader3", env) for g in groups_running]
    for group in workers:
        group.start()
    run = _start(env, s3_server)
    try:
        done = _wait_until_batches_done(session, run, 5)
        monkeypatch.setenv("CAPILLARIES_STATE_DIR", cluster_env["CAPILLARIES_STATE_DIR"])
        pid = read_pid(rabbitmq.node_home(NODES) / "rabbitmq.pid")  # leads the node's process group
        assert pid is not None
        os.killpg(pid, signal.SIGKILL)
        run.finish()
        _assert_exact(run, s3_server, session, done)
    finally:
        for group in workers:
            group.kill(signal.SIGTERM)
        rejoined = services("up", env=cluster_env)
        assert rejoined.returncode == 0, rejoined.stdout + rejoined.stderr
        _drop(env, run.keyspace)


def test_rf1_batches_on_a_killed_node_wait_for_it_and_the_run_completes_when_it_is_back(
    run_env: dict[str, str],
    cluster_env: dict[str, str],
    groups_running: list[WorkerGroup],
    session: Session,
    s3_server: S3Server,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With one copy of each row, a third of every batch's rows live on the killed node: those batches cannot
    finish. They are retried through the delay queue (the store's statement retries gave up), the run is not
    marked complete while the node is away, and once it is back the same run completes with every row once."""
    env = {**run_env, "CAPILLARIES_CASSANDRA_REPLICATION_FACTOR": "1", "CAPILLARIES_CASSANDRA_CONSISTENCY": "ONE"}
    seen = {group.name: len(group.log.read_text(errors="replace")) for group in groups_running}
    run = _start(env, s3_server)
    try:
        done = _wait_until_batches_done(session, run, 5)
        monkeypatch.setenv("CAPILLARIES_STATE_DIR", cluster_env["CAPILLARIES_STATE_DIR"])
        pid = read_pid(cassandra.node_home(NODES) / "cassandra.pid")
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 120
        while not any("(retry)" in g.log.read_text(errors="replace")[seen[g.name] :] for g in groups_running):
            assert time.monotonic() < deadline, "no batch was retried while the node was down"
            assert run.proc.poll() is None, run.proc.communicate()
            time.sleep(1)
        time.sleep(10)  # retries keep going; nothing completes the run meanwhile
        assert run.proc.poll() is None, "the run ended while a third of its data was unreachable"
        rejoined = services("up", env=cluster_env)
        assert rejoined.returncode == 0, rejoined.stdout + rejoined.stderr
        run.finish()
        _assert_exact(run, s3_server, session, done)
    finally:
        services("up", env=cluster_env)
        _drop(env, run.keyspace)
