"""A worker group with metrics on, scraped during and after a real run: its counts equal `wf_batch_history`."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import urllib.request
from collections import Counter
from pathlib import Path

from cassandra.cluster import Session
from conftest import Env, stop_worker, wait_for
from pipeline_script import load, write_pipeline
from prometheus_client.parser import text_string_to_metric_families

from capillaries_provider.status import NodeBatchStatus
from capillaries_provider.store.workflow import WorkflowStore

START = ("run", "start", "--start-nodes", "read", "--wait", "--timeout", "120")
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _by_node_type(samples: Samples, name: str, **labels: str) -> dict[str, float]:
    """`{node_type: value}` of the series of `name` whose other labels equal `labels`."""
    found: dict[str, float] = {}
    for (sample, pairs), value in samples.items():
        d = dict(pairs)
        if sample == name and all(d.get(k) == v for k, v in labels.items()):
            found[d["node_type"]] = found.get(d["node_type"], 0.0) + value
    return found


def _count(comment: str, what: str) -> int:
    match = re.search(rf"{what}: (\d+),", comment)
    assert match is not None, comment
    return int(match.group(1))


def test_scraped_counts_equal_the_batch_history(
    private_env: Env, session: Session, keyspace: str, tmp_path: Path
) -> None:
    port = _free_port()
    cmd = [sys.executable, "-m", "capillaries_provider.cli.main", "worker", "--processes", "2"]
    worker = subprocess.Popen(
        [*cmd, "--metrics-port", str(port)], env=private_env.vars(), start_new_session=True, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: _reachable(port), 60, "the metrics endpoint")
        script_path = write_pipeline(tmp_path)
        node_type = {name: node.type.value for name, node in load(script_path).nodes.items()}

        during: list[Samples] = []
        finished = threading.Event()

        def scrape_while_running() -> None:
            while not finished.is_set():
                during.append(_scrape(port))
                finished.wait(0.2)

        scraper = threading.Thread(target=scrape_while_running)
        scraper.start()
        try:
            done = private_env.cli(*START, "--keyspace", keyspace, "--script", str(script_path))
        finally:
            finished.set()
            scraper.join()
        assert done.returncode == 0, done.stderr
        assert during, "no scrape happened while the run was going"

        history = WorkflowStore(session, keyspace).read_batch_history(1)
        started = Counter(node_type[e.batch.script_node] for e in history if e.status is NodeBatchStatus.START)
        succeeded = [e for e in history if e.status is NodeBatchStatus.SUCCESS]
        success = Counter(node_type[e.batch.script_node] for e in succeeded)
        rows_read: Counter[str] = Counter()
        rows_written: Counter[str] = Counter()
        for e in succeeded:
            rows_read[node_type[e.batch.script_node]] += _count(e.comment, "row_reads")
            rows_written[node_type[e.batch.script_node]] += _count(e.comment, "row_writes")
        assert success == {"file_table": 2, "table_table": 3, "table_file": 1}
        assert not [e for e in history if e.status is NodeBatchStatus.FAIL]

        # The run is complete once the last batch's status is written; its worker counts it right after.
        def caught_up() -> bool:
            return sum(_by_node_type(_scrape(port), "capillaries_batches_total", outcome="success").values()) >= sum(
                success.values()
            )

        wait_for(caught_up, 30, "the metrics to count every successful batch")
        final = _scrape(port)

        assert _by_node_type(final, "capillaries_batches_total", outcome="success") == success
        assert _by_node_type(final, "capillaries_batches_started_total") == started
        assert _by_node_type(final, "capillaries_rows_read_total") == rows_read
        assert _by_node_type(final, "capillaries_rows_written_total") == rows_written
        for outcome in ("fail", "stopreceived", "parked"):
            assert _by_node_type(final, "capillaries_batches_total", outcome=outcome) == {}
        handled = _by_node_type(final, "capillaries_batches_total")  # every message, whatever its outcome
        assert _by_node_type(final, "capillaries_batch_duration_seconds_count") == handled
        assert _by_node_type(final, "capillaries_batch_queue_wait_seconds_count") == handled
        assert final[("capillaries_batches_in_progress", ())] == 0

        # Counters only grow: every scrape during the run is at most the final one.
        for snapshot in during:
            for key, value in snapshot.items():
                if key[0].endswith(("_total", "_count")):
                    assert value <= final[key], key
    finally:
        assert stop_worker(worker) == 0


def _reachable(port: int) -> bool:
    try:
        _scrape(port)
    except OSError:
        return False
    return True
