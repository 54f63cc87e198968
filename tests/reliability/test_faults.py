"""Fault injection against the real local services: worker kills, broker and database restarts, stop, concurrency.

At-least-once delivery plus idempotent batches is the design (spec 3.6, 4.1): whatever happens to a worker, the
broker or Cassandra, a run that completes must hold exactly the rows and files of a clean run, and a run that
cannot complete must say why. Every wait is bounded; the whole module is marked `fault` (run it alone with
`pytest -m fault`) and restarts only the services `capillaries services up` started, leaving them up.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cassandra.cluster import Session
from reliability_env import (
    Env,
    SlowProxy,
    child_pids,
    drop_keyspace_patiently,
    run_statuses,
    stop_worker,
    table_rows,
    wait_for,
)
from reliability_fault_script import FILES, ROWS_PER_FILE, expected_totals, output_lines, write_script

from capillaries_provider.config import cassandra_settings
from capillaries_provider.services import cassandra, rabbitmq
from capillaries_provider.status import NodeBatchStatus, RunStatus
from capillaries_provider.store.session import close, connect
from capillaries_provider.store.workflow import WorkflowStore, node_statuses

pytestmark = [pytest.mark.integration, pytest.mark.fault, pytest.mark.timeout(420)]

RUN_TIMEOUT_S = 240
MIN_KILLS = 10
NODES = ("read", "calc", "out", "dump")
ROWS = FILES * ROWS_PER_FILE
SERVING_AFTER_S = 1.0
STOP_TEST_FILES = 30  # read batches queued for one worker process: most are still queued when the stop lands


@pytest.fixture(scope="module")
def env(live_services: None) -> Iterator[Env]:
    e = Env()
    yield e
    e.delete_queues()


@pytest.fixture(scope="module")
def worker(env: Env, tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen[bytes]]:
    proc = env.start_worker(3, tmp_path_factory.mktemp("worker") / "worker.log")
    yield proc
    # killed and restarted processes may be anywhere (even connecting): do not wait long for a graceful stop
    stop_worker(proc, timeout=20, must_stop=False)


@pytest.fixture(scope="module")
def keyspace(session: Session) -> Iterator[str]:
    ks = f"test_rel_fault_{uuid.uuid4().hex[:10]}"
    yield ks
    # the module session may still be reconnecting after the Cassandra restart: a fresh one drops the keyspace
    s = connect(cassandra_settings())
    try:
        drop_keyspace_patiently(s, ks)
    finally:
        close(s)


@dataclass(frozen=True)
class Snapshot:
    """Everything a run produced, in an order-insensitive form."""

    items: list[tuple[object, ...]]
    unique_keys: int
    index_rowids_resolve: bool
    totals: list[tuple[object, ...]]
    out_lines: list[str]
    dump_lines: list[str]


def snapshot(session: Session, ks: str, run_id: int, out: Path) -> Snapshot:
    suffix = f"{run_id:05d}"
    items = table_rows(session, ks, f"items_{suffix}", "id, name, qty, price")
    rowids = {r[0] for r in table_rows(session, ks, f"items_{suffix}", "rowid")}
    index = table_rows(session, ks, f"idx_items_id_to_check_uniq_{suffix}", "key, rowid")
    return Snapshot(
        items=items,
        unique_keys=len(index),
        index_rowids_resolve=all(rowid in rowids for _, rowid in index),
        totals=table_rows(session, ks, f"totals_{suffix}", "id, label, total"),
        out_lines=output_lines(out, "totals"),
        dump_lines=output_lines(out, "items"),
    )


@dataclass
class Run:
    run_id: int
    out: Path


def start(env: Env, ks: str, folder: Path, files: int = FILES) -> Run:
    """`capillaries run start` (no --wait: the test polls itself, so it survives service restarts)."""
    out = folder / "out"
    script = write_script(folder, out, files)
    done = env.cli("run", "start", "--keyspace", ks, "--script", str(script), "--start-nodes", "read", timeout=120)
    assert done.returncode == 0, done.stderr
    return Run(int(done.stdout.split()[0]), out)


def wait_final(ks: str, run_id: int, timeout: float = RUN_TIMEOUT_S) -> set[RunStatus]:
    """Poll with a session of our own until the run is complete or stopped; tolerant of Cassandra being away."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            s = connect(cassandra_settings())
        except Exception:
            time.sleep(2)
            continue
        try:
            while time.monotonic() < deadline:
                statuses = run_statuses(s, ks, run_id)
                if statuses & {RunStatus.COMPLETE, RunStatus.STOP}:
                    return statuses
                time.sleep(0.5)
        finally:
            close(s)
    raise AssertionError(f"run {run_id} of {ks} not final after {timeout} s")


def node_results(session: Session, ks: str, run_id: int) -> dict[str, NodeBatchStatus]:
    wf = WorkflowStore(session, ks)
    return {n: s for (r, n), s in node_statuses(wf.read_node_history(run_id)).items() if r == run_id}


def failure_comments(session: Session, ks: str, run_id: int) -> list[str]:
    wf = WorkflowStore(session, ks)
    return [e.comment for n in NODES for e in wf.read_batch_history(run_id, n) if e.status is NodeBatchStatus.FAIL]


def assert_succeeded(session: Session, ks: str, run: Run) -> None:
    results = node_results(session, ks, run.run_id)
    assert results == dict.fromkeys(NODES, NodeBatchStatus.SUCCESS), failure_comments(session, ks, run.run_id)


@pytest.fixture(scope="module")
def clean(
    env: Env, worker: subprocess.Popen[bytes], session: Session, keyspace: str, tmp_path_factory: pytest.TempPathFactory
) -> Snapshot:
    """The reference: a run without faults, checked against the Python oracle.

    A second, different script (the corpus' good read -> write script shape) runs at the same time on the same
    workers in another keyspace; both must come out right (two runs of two scripts at once).
    """
    run = start(env, keyspace, tmp_path_factory.mktemp("clean"))
    other_ks = f"test_rel_fault_other_{uuid.uuid4().hex[:8]}"
    other_dir = tmp_path_factory.mktemp("other")
    (other_dir / "in.csv").write_text("id,name\n3,c\n1,a\n2,b\n")
    (other_dir / "script.json").write_text(_other_script(other_dir))
    other = env.cli(
        "run", "start", "--keyspace", other_ks, "--script", str(other_dir / "script.json"), "--start-nodes", "load",
        "--wait", "--timeout", str(RUN_TIMEOUT_S), timeout=RUN_TIMEOUT_S + 60,
    )  # fmt: skip
    try:
        assert other.returncode == 0, other.stderr
        assert (other_dir / "out.csv").read_text().split("\n")[1:] == ["1,A", "2,B", "3,C", ""]
    finally:
        drop_keyspace_patiently(session, other_ks)
    assert wait_final(keyspace, run.run_id) == {RunStatus.START, RunStatus.COMPLETE}
    assert_succeeded(session, keyspace, run)
    snap = snapshot(session, keyspace, run.run_id, run.out)
    assert len(snap.items) == ROWS and len({r[0] for r in snap.items}) == ROWS
    assert snap.unique_keys == ROWS and snap.index_rowids_resolve
    assert snap.out_lines == expected_totals()
    assert sorted(line.split(",")[0] for line in snap.dump_lines) == sorted(str(i) for i in range(ROWS))
    return snap


def _other_script(folder: Path) -> str:
    """A second script: load a CSV, replace letters in the names, write them ordered by id."""
    current = "nrs.run_is_current == true && nrs.node_status == wfmodel.NodeBatch"
    rules = [("go", "Success"), ("wait", "None"), ("wait", "Start"), ("nogo", "Fail")]
    upper = 'strings.ReplaceAll(strings.ReplaceAll(r.name, "a", "A"), "b", "B")'
    upper = f'strings.ReplaceAll({upper}, "c", "C")'
    columns = [
        {"name": "id", "expression": "r.id", "type": "int", "csv": {"header": "id", "format": "%d"}},
        {"name": "name", "expression": upper, "type": "string", "csv": {"header": "name", "format": "%s"}},
    ]
    load = {
        "type": "file_table",
        "r": {
            "urls": [str(folder / "in.csv")],
            "csv": {"hdr_line_idx": 0, "first_data_line_idx": 1},
            "columns": {
                "col_id": {"col_type": "int", "csv": {"col_hdr": "id"}},
                "col_name": {"col_type": "string", "csv": {"col_hdr": "name"}},
            },
        },
        "w": {
            "name": "names",
            "fields": {
                "id": {"expression": "r.col_id", "type": "int"},
                "name": {"expression": "r.col_name", "type": "string"},
            },
        },
    }
    write = {
        "type": "table_file",
        "r": {"table": "names"},
        "w": {"url_template": str(folder / "out.csv"), "top": {"order": "id(asc)"}, "columns": columns},
    }
    policy = {
        "is_default": True,
        "event_priority_order": "run_is_current(desc)",
        "rules": [{"cmd": cmd, "expression": current + status} for cmd, status in rules],
    }
    return json.dumps({"nodes": {"load": load, "upper": write}, "dependency_policies": {"std": policy}})


def _worker_processes(supervisor: int) -> list[int]:
    """Batch-processing children of the supervisor (not multiprocessing's resource tracker)."""
    pids = []
    for pid in child_pids(supervisor):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"spawn_main" in cmdline:
            pids.append(pid)
    return pids


def test_kill_9_workers_at_random_moments_changes_no_output(
    env: Env, worker: subprocess.Popen[bytes], clean: Snapshot, session: Session, keyspace: str, tmp_path: Path
) -> None:
    """SIGKILL a random serving worker process every 0.1-0.6 s until ten kills landed during one run.

    Only processes that have been up for a moment are victims (a process still importing is not serving yet);
    every kill also makes the supervisor's restart back-off of that slot longer, so the run stretches to absorb
    the kills. The run must then equal the clean one.
    """
    rng = random.Random(20260422)
    # processes already up when the run starts are serving from its first moment
    first_seen = dict.fromkeys(_worker_processes(worker.pid), 0.0)
    run = start(env, keyspace, tmp_path)
    kills = 0
    while kills < MIN_KILLS and RunStatus.COMPLETE not in run_statuses(session, keyspace, run.run_id):
        time.sleep(rng.uniform(0.1, 0.6))
        now = time.monotonic()
        serving = []
        for pid in _worker_processes(worker.pid):
            first_seen.setdefault(pid, now)
            if now - first_seen[pid] >= SERVING_AFTER_S:
                serving.append(pid)
        if serving:
            os.kill(rng.choice(serving), signal.SIGKILL)
            kills += 1
    assert kills >= MIN_KILLS, f"run {run.run_id} finished after {kills} kills; make the fault script bigger"
    assert wait_final(keyspace, run.run_id) == {RunStatus.START, RunStatus.COMPLETE}
    assert_succeeded(session, keyspace, run)
    assert snapshot(session, keyspace, run.run_id, run.out) == clean
    assert worker.poll() is None  # the supervisor restarted every killed process


def test_rabbitmq_restart_during_a_run(
    env: Env, worker: subprocess.Popen[bytes], clean: Snapshot, session: Session, keyspace: str, tmp_path: Path
) -> None:
    """Workers reconnect to the restarted broker; durable quorum queues keep the batches; the run equals clean."""
    run = start(env, keyspace, tmp_path)
    wait_for(lambda: _some_batch_succeeded(session, keyspace, run.run_id), 120, "a first finished batch")
    down_at = dt.datetime.now(dt.UTC)
    try:
        rabbitmq.down()
        time.sleep(2)
    finally:
        rabbitmq.up()
    up_at = dt.datetime.now(dt.UTC)
    assert wait_final(keyspace, run.run_id) == {RunStatus.START, RunStatus.COMPLETE}
    # The restart hit the run in flight: batches finished before the broker went down and after it came back.
    finished = _success_times(session, keyspace, run.run_id)
    assert min(finished) < down_at and max(finished) > up_at, "the run was not in flight across the restart"
    assert_succeeded(session, keyspace, run)
    assert snapshot(session, keyspace, run.run_id, run.out) == clean


@dataclass(frozen=True)
class RestartOutcome:
    """A run hit by a Cassandra restart, and what `capillaries run start --wait` (the orchestrator) made of it."""

    run: Run
    statuses: set[RunStatus]
    waiter_code: int | None  # None: still waiting a minute after the run was final
    waiter_output: str
    folder: Path


@pytest.fixture(scope="module")
def cassandra_restart(
    env: Env, worker: subprocess.Popen[bytes], clean: Snapshot, keyspace: str, tmp_path_factory: pytest.TempPathFactory
) -> RestartOutcome:
    """Start a run with `--wait`, restart Cassandra once a batch finished, wait until the run is final."""
    folder = tmp_path_factory.mktemp("cassandra_restart")
    out = folder / "out"
    script = write_script(folder, out)
    waiter = env.cli_async(
        "run", "start", "--keyspace", keyspace, "--script", str(script), "--start-nodes", "read",
        "--wait", "--timeout", str(RUN_TIMEOUT_S),
    )  # fmt: skip
    assert waiter.stdout is not None
    run = Run(int(waiter.stdout.readline().split()[0]), out)
    s = connect(cassandra_settings())
    try:
        wait_for(lambda: _some_batch_succeeded(s, keyspace, run.run_id), 120, "a first finished batch")
    finally:
        close(s)
    try:
        cassandra.down()
        time.sleep(2)
    finally:
        cassandra.up()
    statuses = wait_final(keyspace, run.run_id)
    try:
        rest, err = waiter.communicate(timeout=60)
        code: int | None = waiter.returncode
    except subprocess.TimeoutExpired:
        waiter.kill()
        rest, err = waiter.communicate()
        code = None
    return RestartOutcome(run, statuses, code, rest + err, folder)


def test_cassandra_restart_during_a_run(
    env: Env, cassandra_restart: RestartOutcome, clean: Snapshot, keyspace: str
) -> None:
    """Workers ride out the outage; the run completes (or fails saying why and succeeds when retried).

    Nothing half-written is marked success: a successful run after the restart equals the clean one.
    """
    run = cassandra_restart.run
    assert RunStatus.COMPLETE in cassandra_restart.statuses
    s = connect(cassandra_settings())
    try:
        results = node_results(s, keyspace, run.run_id)
        if results != dict.fromkeys(NODES, NodeBatchStatus.SUCCESS):
            comments = failure_comments(s, keyspace, run.run_id)
            assert comments and all(c.strip() for c in comments), "a failed run must say why"
            run = start(env, keyspace, cassandra_restart.folder / "retry")
            assert wait_final(keyspace, run.run_id) == {RunStatus.START, RunStatus.COMPLETE}
            assert_succeeded(s, keyspace, run)
        assert snapshot(s, keyspace, run.run_id, run.out) == clean
    finally:
        close(s)


def test_run_start_wait_rides_out_the_cassandra_restart(cassandra_restart: RestartOutcome) -> None:
    """The orchestrator reconnects too: `--wait` keeps polling through the outage and reports the final run."""
    assert cassandra_restart.waiter_code is not None, "still waiting a minute after the run was final"
    assert "Traceback" not in cassandra_restart.waiter_output
    assert f"run {cassandra_restart.run.run_id}: complete" in cassandra_restart.waiter_output


def _some_batch_succeeded(session: Session, ks: str, run_id: int) -> bool:
    wf = WorkflowStore(session, ks)
    return any(e.status is NodeBatchStatus.SUCCESS for e in wf.read_batch_history(run_id, "read"))


def _success_times(session: Session, ks: str, run_id: int) -> list[dt.datetime]:
    """When each of the run's batches recorded its success (Cassandra's clock: the same machine's)."""
    wf = WorkflowStore(session, ks)
    return [e.ts for e in wf.read_batch_history(run_id) if e.status is NodeBatchStatus.SUCCESS]


@pytest.fixture
def fresh_session(live_services: None) -> Iterator[Session]:
    """A session opened after the Cassandra restart above: the module session may still be backing off."""
    s = connect(cassandra_settings())
    yield s
    close(s)


def test_stop_while_batches_are_in_flight(env: Env, fresh_session: Session, keyspace: str, tmp_path: Path) -> None:
    """After `run stop` no batch of the run starts; queued and downstream batches are marked stopreceived; the run
    shows stop.

    One worker process of its own (on its own queue) works through the read batches one at a time; the stop lands
    right after the first one finished. A batch already past its run-status check when the stop is written
    finishes normally (spec 5.2: in-flight batches finish), hence the small allowance on the timestamps.
    """
    session = fresh_session
    own = Env()
    proc = own.start_worker(1)
    try:
        run = start(own, keyspace, tmp_path, STOP_TEST_FILES)
        wait_for(lambda: _some_batch_succeeded(session, keyspace, run.run_id), 120, "a first finished batch")
        stopped = own.cli("run", "stop", "--keyspace", keyspace, "--run-id", str(run.run_id), timeout=60)
        assert stopped.returncode == 0, stopped.stderr
        assert stopped.stdout.strip() == f"run {run.run_id} stopped"
        wf = WorkflowStore(session, keyspace)

        def read_batches_settled() -> bool:
            last = {}
            for e in wf.read_batch_history(run.run_id, "read"):
                last[e.batch.batch_idx] = e.status
            return len(last) == STOP_TEST_FILES and all(s.finished for s in last.values())

        wait_for(read_batches_settled, 120, "every read batch to be finished or stopreceived")
        stop_ts = next(e.ts for e in wf.read_run_history(run.run_id) if e.status is RunStatus.STOP)
        events = [e for n in NODES for e in wf.read_batch_history(run.run_id, n)]
        late_starts = [e for e in events if e.status is NodeBatchStatus.START and (e.ts - stop_ts).total_seconds() > 1]
        assert late_starts == []
        assert any(e.status is NodeBatchStatus.STOPRECEIVED for e in events)
        # downstream nodes are released so that the run can finish, but their batches only record the stop
        downstream = [e for e in events if e.batch.script_node != "read"]
        assert all(e.status is NodeBatchStatus.STOPRECEIVED for e in downstream), downstream
        status = own.cli("run", "status", "--keyspace", keyspace, "--run-id", str(run.run_id), timeout=60)
        assert status.stdout.splitlines()[0].startswith(f"run {run.run_id}: stop")
        assert "read: stopreceived" in status.stdout
    finally:
        stop_worker(proc)
        own.delete_queues()


def _sigterm_stops(proc: subprocess.Popen[bytes], log: Path) -> int:
    """SIGTERM the worker's process group; fail (after SIGKILL) unless it stops within 20 s; its exit code."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail(f"the worker did not stop within 20 s of SIGTERM; log:\n{log.read_text()[-3000:]}")


def test_sigterm_while_a_worker_connects_still_stops_it(live_services: None, tmp_path: Path) -> None:
    """A deploy/scale-down signal must stop a worker whatever it is doing, including connecting.

    The worker reaches Cassandra through a proxy that holds the connection for a few seconds; the SIGTERM is sent
    while the connection is held, and the connection then succeeds.
    """
    settings = cassandra_settings()
    proxy = SlowProxy((settings.hosts[0], settings.port), delay=4.0)
    own = Env(extra={"CAPILLARIES_CASSANDRA_HOSTS": "127.0.0.1", "CAPILLARIES_CASSANDRA_PORT": str(proxy.port)})
    proc = own.start_worker(1, tmp_path / "worker.log")
    try:
        assert proxy.accepted.wait(60), "the worker never tried to connect"
        assert _sigterm_stops(proc, tmp_path / "worker.log") == 0
    finally:
        stop_worker(proc, timeout=5, must_stop=False)  # only if a step before the SIGTERM failed
        proxy.close()
        own.delete_queues()


@pytest.mark.parametrize("offset_s", [0.0, 0.15, 0.3, 0.45, 0.6, 0.75])
def test_sigterm_while_a_worker_retries_cassandra_stops_it(
    live_services: None, tmp_path: Path, offset_s: float
) -> None:
    """SIGTERM to the worker's process group reaches each worker process twice (directly and forwarded by the
    supervisor), at any point of its connect-retry loop; it must stop every time.

    Cassandra is unreachable (port 1), so the worker process keeps retrying; the signal lands `offset_s` after its
    first failed attempt, at a different point of the retry cycle in each case.
    """
    own = Env(extra={"CAPILLARIES_CASSANDRA_HOSTS": "127.0.0.1", "CAPILLARIES_CASSANDRA_PORT": "1"})
    log = tmp_path / "worker.log"
    proc = own.start_worker(1, log)
    try:
        wait_for(lambda: "cannot connect to Cassandra" in log.read_text(), 60, "a failed connection attempt")
        time.sleep(offset_s)
        assert _sigterm_stops(proc, log) == 0
    finally:
        stop_worker(proc, timeout=5, must_stop=False)  # only if a step before the SIGTERM failed
        own.delete_queues()
