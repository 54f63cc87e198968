"""Runs on the local 3+3 clusters by two worker groups that share no disk, losing a part in the middle of a run.

Each worker group is what a separate worker host would be: its own state folder, temp folder and file roots,
reaching the others only through Cassandra (all three contact points), RabbitMQ (node 1) and S3. The case is
portfolio_quicktest `one` with its cfg, inputs and outputs on S3, so the golden files are the clean run every
faulty run must equal: no lost and no duplicate row. Each fault test checks that its fault met work in flight (the
run had batches done before it and still had batches to do after it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pika
import pytest
from cassandra.cluster import Session

from capillaries_provider.config import amqp_settings, cassandra_settings
from capillaries_provider.queue.topology import declare_topology
from capillaries_provider.services import cassandra, rabbitmq
from capillaries_provider.services.process import read_pid
from capillaries_provider.store.session import close, connect
from tests.conformance.harness import RUN_TIMEOUT_S, compare_outputs
from tests.remote.cases import S3Case
from tests.remote.servers import S3Server
from tests.scale.conftest import CASSANDRA_HOSTS, NODES, services

pytestmark = [pytest.mark.integration, pytest.mark.fault]

BUCKET = "capi-cluster-runs"
CASE = ("portfolio_quicktest", "one")


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

    case: S3Case
    keyspace: str
    proc: subprocess.Popen[str]

    def finish(self) -> str:
        out, err = self.proc.communicate(timeout=RUN_TIMEOUT_S + 120)
        assert self.proc.returncode == 0, f"{self.keyspace}: {out[-3000:]}\n{err[-3000:]}"
        return out


def _start(env: dict[str, str], tmp_path: Path, s3_server: S3Server) -> Run:
    case = S3Case(*CASE, tmp_path, s3_server, BUCKET)
    (run,) = case.case.runs
    keyspace = f"cluster_{uuid.uuid4().hex[:10]}"
    cmd = [sys.executable, "-m", "capillaries_provider.cli.main", "run", "start", "--keyspace", keyspace]
    cmd += ["--script", case.case.script, "--params", case.case.params, "--start-nodes", ",".join(run["start_nodes"])]
    cmd += ["--wait", "--timeout", str(RUN_TIMEOUT_S)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return Run(case, keyspace, proc)


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
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        done = _done(_batches(session, run.keyspace))
        if len(done) >= count:
            assert run.proc.poll() is None, "the run ended before the fault: nothing was in flight"
            return done
        assert run.proc.poll() is None, run.proc.communicate()
        assert time.monotonic() < deadline, f"only {len(done)} batches done"
        time.sleep(0.2)


def _assert_golden(run: Run, session: Session, done_at_fault: set[tuple[str, int]] | None = None) -> None:
    run.case.download_outputs()
    assert compare_outputs(run.case.case.outputs, run.case.case.staging) == []
    if done_at_fault is not None:  # the fault met a run with work done and work left to do
        assert done_at_fault < _done(_batches(session, run.keyspace))


def _drop(env: dict[str, str], keyspace: str) -> None:
    cmd = [sys.executable, "-m", "capillaries_provider.cli.main", "keyspace", "drop", keyspace]
    subprocess.run(cmd, env=env, capture_output=True, timeout=300, check=False)


def test_two_worker_groups_that_share_no_disk_give_the_golden_outputs(
    run_env: dict[str, str], groups_running: list[WorkerGroup], session: Session, s3_server: S3Server, tmp_path: Path
) -> None:
    run = _start(run_env, tmp_path, s3_server)
    try:
        run.finish()
        local_out = run.case.case.staging.roots["out"]
        assert [p for p in local_out.rglob("*") if p.is_file()] == []  # the outputs are on S3 only...
        _assert_golden(run, session)  # ...and equal the golden files once downloaded
        for group in groups_running:
            group.note_pids()
        threads = {thread for *_, thread in _batches(session, run.keyspace)}
        for group in groups_running:
            assert threads & group.pids, f"group {group.name} did no batch"
            for local in ("files", "tmp"):  # each output went through a temp file of the group's own, then away
                assert [p for p in (group.root / local).rglob("*") if p.is_file()] == []
    finally:
        _drop(run_env, run.keyspace)


def test_rf3_run_survives_a_cassandra_node_killed_in_the_middle(
    run_env: dict[str, str],
    cluster_env: dict[str, str],
    groups_running: list[WorkerGroup],
    session: Session,
    s3_server: S3Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = _start(run_env, tmp_path, s3_server)
    try:
        done = _wait_until_batches_done(session, run, 5)
        monkeypatch.setenv("CAPILLARIES_STATE_DIR", cluster_env["CAPILLARIES_STATE_DIR"])
        pid = read_pid(cassandra.node_home(NODES) / "cassandra.pid")
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        run.finish()
        _assert_golden(run, session, done)
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
    tmp_path: Path,
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
    run = _start(env, tmp_path, s3_server)
    try:
        done = _wait_until_batches_done(session, run, 5)
        monkeypatch.setenv("CAPILLARIES_STATE_DIR", cluster_env["CAPILLARIES_STATE_DIR"])
        pid = read_pid(rabbitmq.node_home(NODES) / "rabbitmq.pid")  # leads the node's process group
        assert pid is not None
        os.killpg(pid, signal.SIGKILL)
        run.finish()
        _assert_golden(run, session, done)
    finally:
        for group in workers:
            group.kill(signal.SIGTERM)
        rejoined = services("up", env=cluster_env)
        assert rejoined.returncode == 0, rejoined.stdout + rejoined.stderr
        _drop(env, run.keyspace)


def test_a_run_completes_on_the_surviving_group_when_the_other_is_killed(
    run_env: dict[str, str], groups_running: list[WorkerGroup], session: Session, s3_server: S3Server, tmp_path: Path
) -> None:
    killed, survivor = groups_running
    run = _start(run_env, tmp_path, s3_server)
    try:
        done = _wait_until_batches_done(session, run, 5)
        killed.kill()
        survivor.note_pids()
        run.finish()
        _assert_golden(run, session, done)
        later = {(node, batch, thread) for node, batch, status, thread in _batches(session, run.keyspace)}
        later = {row for row in later if row[:2] not in done}
        assert later and {thread for *_, thread in later} <= survivor.pids  # the rest was done by the survivor
    finally:
        _drop(run_env, run.keyspace)
