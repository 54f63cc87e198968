"""The benchmark cannot rot: generator + a 2,000-row load through the real CLI and one worker, counted back."""

from __future__ import annotations

import csv
import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest

from bench import bench_batch_overhead as overhead
from bench.datagen import Scale, generate
from bench.pipeline import Workers, count_rows, drop, node_results, run_stage, write_params
from bench.run import Results, paired_rows, parse_args, run_paired
from capillaries_provider.config import amqp_settings
from capillaries_provider.queue.topology import delete_topology

pytestmark = pytest.mark.integration


@pytest.fixture
def queue() -> Iterator[str]:
    name = f"bench_smoke_{uuid.uuid4().hex[:10]}"
    yield name
    connection = pika.BlockingConnection(pika.URLParameters(amqp_settings().url))
    try:
        delete_topology(connection.channel(), name)
    finally:
        connection.close()


def test_generator_is_deterministic_and_sized(tmp_path: Path) -> None:
    scale = Scale(accounts=7, transactions=1001, files=3, seed=5)
    a = generate(tmp_path / "a", scale)
    b = generate(tmp_path / "b", scale)
    assert [p.read_bytes() for p in a.txn_files] == [p.read_bytes() for p in b.txn_files]
    counts = [sum(1 for _ in csv.reader(p.open())) - 1 for p in a.txn_files]
    assert counts == [334, 334, 333]
    first = next(csv.DictReader(a.txn_files[1].open()))
    assert first["txn_id"] == "334" and len(first) == 8
    assert sum(1 for _ in a.holdings_csv.open()) - 1 == 7 * 50 * 2 == scale.holdings
    assert sum(1 for _ in a.accounts_csv.open()) - 1 == 7


def test_small_load_end_to_end(tmp_path: Path, queue: str) -> None:
    data = generate(tmp_path / "data", Scale(accounts=10, transactions=2000, files=2, seed=1))
    params = write_params(tmp_path / "params.json", data.root, data.txn_files, tmp_path / "out", staged=True, batches=2)
    ks = f"bench_smoke_{uuid.uuid4().hex[:8]}"
    try:
        with Workers(1, queue, tmp_path / "workers.log") as workers:
            stage = run_stage("load/load_txns", ks, params, ["load_txns"], workers, timeout_s=50, cassandra=())
            rss = workers.peak_rss()
        assert [(n.node, n.batches, n.rows_read, n.rows_written) for n in stage.nodes] == [("load_txns", 2, 2000, 2000)]
        assert stage.worker_cpu_s > 0 and stage.span_s > 0
        run = f"{stage.run_id:05d}"
        assert count_rows(ks, [f"txns_{run}", f"idx_txns_account_id_{run}"]) == {
            f"txns_{run}": 2000,
            f"idx_txns_account_id_{run}": 2000,
        }
        assert len(rss["worker"]) == 1 and 20 < rss["worker"][0] < 300
        assert node_results(ks, stage.run_id, ["load_txns"]) == stage.nodes
    finally:
        drop(ks)


def test_back_to_back_pair_of_raw_ceiling_and_load(tmp_path: Path, queue: str) -> None:
    args = parse_args(
        ["--transactions", "2000", "--accounts", "10", "--files", "2", "--batches", "2", "--repeats", "1"]
        + ["--workers", "1", "--queue", queue]
    )
    data = generate(tmp_path / "data", Scale(accounts=10, transactions=2000, files=2, seed=1))
    results = Results(scale={}, settings={"workers": 1}, machine={})
    run_paired(results, args, data, tmp_path)
    assert results.errors == []
    [pair] = results.paired
    assert pair["ceiling"]["rows"] == 2000 and pair["load"]["rows"] == 2000
    raw, load = pair["ceiling"]["rows_per_s"], 2000 / pair["load"]["span_s"]
    *_, median = paired_rows(results)
    assert median[0] == "median" and median[3] == f"{load / raw:.0%} [{load / raw:.0%}-{load / raw:.0%}]"


def test_batch_overhead_quick_measures_both_nodes_and_the_lookup(tmp_path: Path) -> None:
    """`bench.bench_batch_overhead --quick`'s measurement of one keyspace with 10 earlier runs, counted back."""
    args = overhead.parse_args(["--quick"])
    script = overhead.write_script(tmp_path, args.read_batches, args.copy_batches)
    amqp = dataclasses.replace(amqp_settings(), queue=f"bench_overhead_{uuid.uuid4().hex[:8]}")
    try:
        measured = overhead.measure(10, args, script, amqp)
    finally:
        overhead.delete_queues(amqp)
    for what in ("read", "copy", "lookup"):
        spread = measured[what]
        assert spread is not None and spread.n == args.repeats and spread.median > 0, what
