"""Bad-input corpus, end to end: every case of `corpus/cases.json` through `capillaries run start --wait`.

Each case names the fragments its message must contain. Load-time cases must exit 2 before anything is created;
run-time cases must exit 1 with the failed node's batch recorded `fail` with that message, no batch of the failed
node or of any node downstream of it marked success, and the run final. After the whole corpus the same worker
processes (no crash, no restart) still process a good run.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cassandra.cluster import Session
from reliability_env import Env, child_pids, drop_keyspace_patiently, stage, stop_worker, wait_for

from capillaries_provider.status import NodeBatchStatus, RunStatus
from capillaries_provider.store.session import drop_keyspace, keyspace_exists
from capillaries_provider.store.workflow import WorkflowStore, node_statuses

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

CORPUS = Path(__file__).with_name("corpus")
CASES: list[dict[str, Any]] = json.loads((CORPUS / "cases.json").read_text())
RUN_TIMEOUT_S = 120
PARALLEL_CLI = 4
MAX_COMMENT_CHARS = 8192
EXIT_FAILED, EXIT_USAGE = 1, 2


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    e = Env(extra={"CAPILLARIES_PYCALC_EXECUTION_TIMEOUT_MS": "3000"})
    yield e
    e.delete_queues()


@pytest.fixture(scope="module")
def worker_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("worker") / "worker.log"


@pytest.fixture(scope="module")
def worker(env: Env, live_services: None, worker_log: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = env.start_worker(2, worker_log)
    yield proc
    assert stop_worker(proc) == 0


@pytest.fixture(scope="module")
def keyspace(session: Session) -> Iterator[str]:
    ks = f"test_rel_corpus_{uuid.uuid4().hex[:10]}"
    yield ks
    drop_keyspace_patiently(session, ks)


@pytest.fixture(scope="module")
def worker_children(worker: subprocess.Popen[bytes]) -> list[int]:
    """The worker processes as first seen; the last test checks they all survived the corpus."""
    wait_for(lambda: len(child_pids(worker.pid)) >= 2, 60, "two worker processes")
    return sorted(child_pids(worker.pid))


def _staged(case: dict[str, Any], root: Path) -> tuple[Path, Path]:
    out = root / "out"
    out.mkdir(parents=True)
    folder = root / case["case"]
    stage(CORPUS / case["case"], folder, {"{CASE}": str(folder), "{OUT}": str(out)})
    huge_mb = case.get("huge_field_mb")
    if huge_mb:
        data = folder / "in.csv"
        data.write_text(data.read_text().replace("{HUGE}", "x" * (huge_mb << 20)))
    return folder, out


def _start(
    env: Env, ks: str, case: dict[str, Any], folder: Path, wait_s: float = RUN_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    args = ["run", "start", "--keyspace", ks, "--script", str(folder / case.get("script", "script.json"))]
    if case.get("params"):
        args += ["--params", str(folder / case["params"])]
    args += ["--start-nodes", case["start_nodes"], "--wait", "--timeout", str(wait_s)]
    return env.cli(*args, timeout=wait_s + 60)


LOAD_CASES = [c for c in CASES if c["expect"] in ("load", "usage")]
BATCH_CASES = [c for c in CASES if c["expect"] == "batch"]


def _run_all(
    env: Env, cases: list[dict[str, Any]], keyspace: Callable[[dict[str, Any]], str], root: Path, wait_s: float
) -> dict[str, tuple[str, subprocess.CompletedProcess[str]]]:
    """Run the cases' CLI commands a few at a time (CLI start-up dominates); case -> (keyspace, result)."""

    def one(case: dict[str, Any]) -> tuple[str, tuple[str, subprocess.CompletedProcess[str]]]:
        folder, _ = _staged(case, root / case["case"])
        ks = keyspace(case)
        return case["case"], (ks, _start(env, ks, case, folder, wait_s))

    with ThreadPoolExecutor(PARALLEL_CLI) as pool:
        return dict(pool.map(one, cases))


@pytest.fixture(scope="module")
def load_results(
    request: pytest.FixtureRequest, env: Env, session: Session, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[str, Any]]]:
    """A load-time case that wrongly starts a run would wait for workers that never come: keep its wait short."""
    root = tmp_path_factory.mktemp("load_cases")
    results = _run_all(
        env, _selected(request, LOAD_CASES), lambda _: f"test_rel_never_{uuid.uuid4().hex[:10]}", root, 15
    )
    yield results
    for ks, _ in results.values():
        if keyspace_exists(session, ks):
            drop_keyspace(session, ks)


def _selected(request: pytest.FixtureRequest, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cases whose tests this session runs (so `-k` runs only what it selects)."""
    names = {
        item.callspec.params["case"]["case"]
        for item in request.session.items
        if isinstance(item, pytest.Function)
        and item.module is request.module  # other modules' tests may have a `case` parameter of their own
        and hasattr(item, "callspec")
        and "case" in item.callspec.params
    }
    return [c for c in cases if c["case"] in names]


@pytest.fixture(scope="module")
def batch_results(
    request: pytest.FixtureRequest,
    env: Env,
    worker_children: list[int],
    keyspace: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[str, Any]]:
    root = tmp_path_factory.mktemp("batch_cases")
    return _run_all(env, _selected(request, BATCH_CASES), lambda _: keyspace, root, RUN_TIMEOUT_S)


def test_corpus_is_big_enough_and_every_case_has_its_files() -> None:
    assert len(CASES) >= 40
    for case in CASES:
        assert (CORPUS / case["case"] / case.get("script", "script.json")).exists(), case["case"]
        assert case["fragments"], case["case"]


@pytest.mark.parametrize("case", LOAD_CASES, ids=[c["case"] for c in LOAD_CASES])
def test_load_time_case_exits_2_with_the_message_and_starts_nothing(
    case: dict[str, Any], load_results: dict[str, tuple[str, Any]], session: Session
) -> None:
    ks, done = load_results[case["case"]]
    assert done.returncode == EXIT_USAGE, done.stdout + done.stderr
    assert done.stdout == ""  # no run id was printed
    for fragment in case["fragments"]:
        assert fragment in done.stderr, f"{fragment!r} not in {done.stderr!r}"
    assert not keyspace_exists(session, ks)


def _params(cases: list[dict[str, Any]]) -> list[Any]:
    """Cases with a `known_gap` are strict xfails: they turn red as soon as the engine is fixed (see the report)."""
    return [
        pytest.param(c, id=c["case"], marks=[pytest.mark.xfail(strict=True, reason=c["known_gap"])])
        if c.get("known_gap")
        else pytest.param(c, id=c["case"])
        for c in cases
    ]


@pytest.mark.parametrize("case", _params(BATCH_CASES))
def test_run_time_case_fails_its_batch_with_the_message_and_marks_nothing_success(
    case: dict[str, Any], batch_results: dict[str, tuple[str, Any]], session: Session
) -> None:
    ks, done = batch_results[case["case"]]
    assert done.returncode == EXIT_FAILED, done.stdout + done.stderr
    run_id = int(done.stdout.splitlines()[0])
    failed = case["node"]
    assert f"failed node(s): {failed}" in done.stderr
    for fragment in case["fragments"]:
        assert fragment in done.stderr, f"{fragment!r} not in {done.stderr!r}"

    wf = WorkflowStore(session, ks)
    fails = [e for e in wf.read_batch_history(run_id, failed) if e.status is NodeBatchStatus.FAIL]
    assert fails, f"no failed batch recorded for {failed}"
    for fragment in case["fragments"]:
        assert any(fragment in e.comment for e in fails), f"{fragment!r} not in {[e.comment for e in fails]}"
    assert all(len(e.comment) < MAX_COMMENT_CHARS for e in fails)  # bounded, even for a 20 MB cell
    assert not [e.comment for e in fails if "internal error" in e.comment]  # recognised, not an unexpected crash
    statuses = {n: s for (r, n), s in node_statuses(wf.read_node_history(run_id)).items() if r == run_id}
    assert statuses[failed] is NodeBatchStatus.FAIL
    for node in [failed, *case["downstream"]]:
        assert all(e.status is not NodeBatchStatus.SUCCESS for e in wf.read_batch_history(run_id, node)), node
        assert statuses.get(node, NodeBatchStatus.NONE) is not NodeBatchStatus.SUCCESS, node
    assert {e.status for e in wf.read_run_history(run_id)} == {RunStatus.START, RunStatus.COMPLETE}


def test_workers_survived_the_corpus_and_still_serve(
    env: Env,
    worker: subprocess.Popen[bytes],
    worker_children: list[int],
    batch_results: dict[str, tuple[str, Any]],
    worker_log: Path,
    session: Session,
    keyspace: str,
    tmp_path: Path,
) -> None:
    """No case crashed or restarted a worker process; the same processes then run a good script to success."""
    good = next(c for c in BATCH_CASES if c["case"] == "run_csv_bad_int")
    folder, out = _staged(good, tmp_path)
    (folder / "in.csv").write_text("id,name,amount,day\n1,apple,1.25,2024-01-02\n2,pear,0.40,2024-02-03\n")
    done = _start(env, keyspace, {**good, "start_nodes": "read"}, folder)
    assert done.returncode == 0, done.stderr
    assert worker.poll() is None
    assert set(worker_children) <= set(child_pids(worker.pid))
    assert "exited with code" not in worker_log.read_text()  # the supervisor restarted nothing
    lines = (out / "items.csv").read_text().splitlines()
    assert lines[0] == "id,name,amount"
    assert sorted(lines[1:]) == ["1,apple,1.25", "2,pear,0.40"]
