"""Load and lookup on 1 and 3 local Cassandra nodes, RF 1 and RF 3: what replication costs per row (issue 16).

On two cores more nodes cannot add throughput; the point is CPU seconds per row, worker and Cassandra (the sum over
every node's JVM), which the sizing model in docs/running-at-scale.md scales by. Each configuration gets the
services it needs (`services up`, the clusters in a state folder of their own) and one `bench.run` of the load
and lookup nodes (load_holdings, load_txns, txn_positions); the single node is restored at the end.

    AWS_EC2_METADATA_DISABLED=true .venv/bin/python -m bench.cluster_cost --transactions 200000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.pipeline import CLI, REPO

NODES = ("load_holdings", "load_txns", "txn_positions")
MEASURED = ("load_txns", "txn_positions")


@dataclass(frozen=True)
class Config:
    name: str
    nodes: int
    rf: int
    consistency: str

    def services_env(self, state: Path) -> dict[str, str]:
        """What `services` is run with: no host list (that would make the local nodes "external")."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAPILLARIES_CASSANDRA_")}
        env.pop("CAPILLARIES_STATE_DIR", None)
        if self.nodes > 1:
            env["CAPILLARIES_STATE_DIR"] = str(state)
        return env

    def env(self, state: Path) -> dict[str, str]:
        """What the bench's clients and workers are run with: every node as a contact point, RF and consistency."""
        env = self.services_env(state)
        env["CAPILLARIES_CASSANDRA_REPLICATION_FACTOR"] = str(self.rf)
        env["CAPILLARIES_CASSANDRA_CONSISTENCY"] = self.consistency
        if self.nodes > 1:
            env["CAPILLARIES_CASSANDRA_HOSTS"] = ",".join(f"127.0.0.{n}" for n in range(1, self.nodes + 1))
        return env


CONFIGS = (
    Config("1 node, RF 1", 1, 1, "LOCAL_QUORUM"),
    Config("3 nodes, RF 1", 3, 1, "LOCAL_QUORUM"),
    Config("3 nodes, RF 3", 3, 3, "LOCAL_QUORUM"),
)


def _services(*args: str, env: dict[str, str]) -> None:
    done = subprocess.run([*CLI, "services", *args], env=env, capture_output=True, text=True, check=False)
    print(done.stdout, done.stderr, file=sys.stderr, flush=True)
    if done.returncode != 0:
        raise RuntimeError(f"services {' '.join(args)} failed")


def _bench(env: dict[str, str], args: argparse.Namespace, out: Path) -> list[dict[str, Any]]:
    """bench.run's stage runs (one list of node results per repeat) for this configuration."""
    cmd = [sys.executable, "-m", "bench.run", "--stages", "lookup", "--nodes", ",".join(NODES)]
    cmd += ["--skip", "micro,ceiling,curve,paired,e2e,airflow", "--repeats", str(args.repeats)]
    cmd += ["--transactions", str(args.transactions), "--out", str(out), "--plot", str(out / "unused.png")]
    subprocess.run(cmd, env=env, cwd=REPO, check=True)
    results = json.loads(next(out.rglob("results.json")).read_text())
    stages: list[dict[str, Any]] = [stage for rep in results["stages"] for stage in rep]
    return stages


def _per_row(stages: list[dict[str, Any]], node: str) -> dict[str, float]:
    """Medians over the repeats of one node: rows/s and CPU seconds per 1M rows."""
    runs = [s for s in stages if s["name"].endswith(f"/{node}")]
    rows = [s["rows"] for s in runs]
    return {
        "rows_per_s": statistics.median(r / s["span_s"] for r, s in zip(rows, runs, strict=True)),
        "worker_cpu_s_per_1m": statistics.median(s["worker_cpu_s"] / r * 1e6 for r, s in zip(rows, runs, strict=True)),
        "cassandra_cpu_s_per_1m": statistics.median(
            s["cassandra_cpu_s"] / r * 1e6 for r, s in zip(rows, runs, strict=True)
        ),
        "repeats": len(runs),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--transactions", type=int, default=200_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=Path("/tmp/capillaries-bench/cluster-cost"))
    p.add_argument(
        "--configs",
        default="1,2,3",
        help="which configurations to run, by number (1: 1 node RF 1, 2: 3 nodes RF 1, 3: 3 nodes RF 3)",
    )
    args = p.parse_args()
    chosen = [CONFIGS[int(n) - 1] for n in args.configs.split(",")]
    state = args.out / "cluster-state"
    single = CONFIGS[0].services_env(state)
    report: dict[str, dict[str, dict[str, float]]] = {}
    running = single  # the services up now, by their environment
    try:
        for config in chosen:
            services_env = config.services_env(state)
            if services_env.get("CAPILLARIES_STATE_DIR") != running.get("CAPILLARIES_STATE_DIR"):
                _services("down", env=running)
                _services("up", "--cassandra-nodes", str(config.nodes), env=services_env)
                running = services_env
            stages = _bench(config.env(state), args, args.out / config.name.replace(" ", "").replace(",", "_"))
            report[config.name] = {node: _per_row(stages, node) for node in MEASURED}
            print(json.dumps({config.name: report[config.name]}, indent=1), flush=True)
    finally:
        if running is not single:
            _services("down", env=running)
        _services("up", env=single)
    (args.out / "cluster_cost.json").write_text(json.dumps(report, indent=1))
    print("| configuration | node | rows/s | worker CPU s / 1M rows | Cassandra CPU s / 1M rows |")
    print("|---|---|---|---|---|")
    for name, nodes in report.items():
        for node, m in nodes.items():
            print(
                f"| {name} | {node} | {m['rows_per_s']:,.0f} | {m['worker_cpu_s_per_1m']:.0f}"
                f" | {m['cassandra_cpu_s_per_1m']:.0f} |"
            )


if __name__ == "__main__":
    main()
