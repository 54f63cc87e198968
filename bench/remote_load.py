"""`python -m bench.remote_load`: load_txns from local files against the same files on S3 (issue 15).

Generates the portfolio data set (bench/datagen.py), starts moto's S3 server on 127.0.0.1 (tests/remote/servers.py),
uploads the transaction files (all that load_txns reads) to a bucket, then, back to back in each of `--repeats`
rounds, runs the load_txns node once reading the local files and once reading `s3://` URLs, each with freshly
started workers (`--workers` processes; the S3 ones with the server's endpoint and credentials in their environment)
and in a keyspace of its own, dropped afterwards. Per run: rows/s from the batch history (bench/pipeline.py), the
CLI's wall time, worker, Cassandra and moto CPU seconds, and the peak RSS of every worker process. Prints a Markdown
table of medians (ratio = S3 rows/s / local rows/s of each round) and saves JSON under the output folder.

Loopback only: every process that may load botocore gets AWS_EC2_METADATA_DISABLED=true and explicit endpoint and
credentials.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.datagen import DataSet, Scale, generate
from bench.pipeline import Workers, run_stage, wait_for_cassandra, write_params
from bench.procwatch import cassandra_pids, cpu_seconds
from bench.report import Spread, fmt, table
from bench.run import _cpu_pressure_total_us, drop_quietly, machine_info
from tests.remote.servers import S3Server

NODE = "load_txns"
BUCKET = "capillaries-bench"
RSS_TARGET_MB = 300.0
RATIO_TARGET = 0.8
MODES = ("local", "s3")


@dataclass
class Results:
    """Everything measured in one invocation (saved as JSON)."""

    scale: dict[str, int]
    settings: dict[str, Any]
    machine: dict[str, Any]
    load_before: str = ""
    load_after: str = ""
    # One entry per round: {"local": run, "s3": run}; a run is a dict as made by `_run_once`.
    rounds: list[dict[str, dict[str, Any]]] = field(default_factory=list)
    # Transport alone (`read_cost`), per input kind, measured once after the rounds.
    read_only: dict[str, dict[str, float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    cpu_pressure: float = 0.0
    wall_s: float = 0.0


def _log(text: str) -> None:
    print(f"[{dt.datetime.now(dt.UTC):%H:%M:%S}] {text}", file=sys.stderr, flush=True)


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@contextmanager
def _environ(extra: dict[str, str]) -> Iterator[None]:
    """Set `extra` in os.environ for the block (bench_env copies os.environ into workers and the CLI)."""
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def upload(server: S3Server, data: DataSet, prefix: str) -> list[str]:
    """Put every transaction file into BUCKET under `prefix`; returns their s3:// URLs in file order."""
    client = server.client()
    client.create_bucket(Bucket=BUCKET)
    urls = []
    for path in data.txn_files:
        key = f"{prefix}/{path.name}"
        client.upload_file(str(path), BUCKET, key)
        urls.append(f"s3://{BUCKET}/{key}")
    return urls


def s3_params(local_params: Path, urls: list[str]) -> Path:
    """The staged parameters with `txn_urls` pointing at the uploaded copies."""
    params = json.loads(local_params.read_text())
    params["txn_urls"] = urls
    path = local_params.with_name("params_s3.json")
    path.write_text(json.dumps(params, indent=2))
    return path


def _run_once(
    mode: str, rnd: int, params: Path, args: argparse.Namespace, out: Path, server: S3Server, cas: tuple[int, ...]
) -> dict[str, Any]:
    """load_txns once with fresh workers in a fresh keyspace; S3 workers get the server's environment."""
    ks = f"bench_remote_{mode}_{uuid.uuid4().hex[:8]}"
    env = server.env if mode == "s3" else {"AWS_EC2_METADATA_DISABLED": "true"}
    moto_pid = server._proc.pid if server._proc is not None else None  # the bench's own server process
    with (
        _environ(env),
        Workers(args.workers, args.queue, out / "logs" / f"workers_{mode}_{rnd}.log") as workers,
    ):
        moto0 = cpu_seconds(moto_pid) if moto_pid else 0.0
        load0 = _loadavg()
        try:
            r = run_stage(f"{mode}/{NODE}", ks, params, [NODE], workers, timeout_s=args.timeout, cassandra=cas)
        finally:
            drop_quietly(ks)
        moto_cpu = (cpu_seconds(moto_pid) - moto0) if moto_pid else 0.0
        # Read while the workers are still alive (VmHWM is their peak so far): a sample taken while they exit sees
        # zombies (empty cmdline, no VmHWM) and would overwrite their last good sample.
        rss = workers.peak_rss()
    node = r.nodes[0]
    return {
        "mode": mode,
        "keyspace": ks,
        "run_id": r.run_id,
        "rows": node.rows,
        "batches": node.batches,
        "span_s": node.span_s,
        "rows_per_s": node.rows / node.span_s if node.span_s > 0 else 0.0,
        "wall_s": r.wall_s,
        "worker_cpu_s": r.worker_cpu_s,
        "cassandra_cpu_s": r.cassandra_cpu_s,
        "moto_cpu_s": moto_cpu,
        "worker_peak_rss_mb": rss.get("worker", []),
        "supervisor_peak_rss_mb": rss.get("supervisor", []),
        "load_at_start": load0,
    }


def read_cost(urls: list[str], env: dict[str, str]) -> dict[str, float]:
    """Transport alone, in this process: read every input through the storage layer the reader uses (in 1 MiB
    chunks, counting lines), without parsing or writing. CPU is this process's (all threads, s3fs's loop too)."""
    from capillaries_provider.storage.files import input_source

    cpu0, wall0, lines, size = time.process_time(), time.monotonic(), 0, 0
    with _environ(env):
        for url in urls:
            with input_source(url) as src:
                f = open(src, "rb") if isinstance(src, str) else src  # noqa: SIM115 - closed below
                try:
                    while chunk := f.read(1 << 20):
                        lines += chunk.count(b"\n")
                        size += len(chunk)
                finally:
                    if isinstance(src, str):
                        f.close()
    return {"cpu_s": time.process_time() - cpu0, "wall_s": time.monotonic() - wall0, "lines": lines, "bytes": size}


def _spread(results: Results, mode: str, key: str) -> Spread | None:
    return Spread.of([r[mode][key] for r in results.rounds if mode in r])


def _peak(run: dict[str, Any]) -> float:
    return max(run["worker_peak_rss_mb"], default=0.0)


def ratios(results: Results) -> list[float]:
    """S3 rows/s over local rows/s, per round (both runs of a round back to back)."""
    return [
        r["s3"]["rows_per_s"] / r["local"]["rows_per_s"]
        for r in results.rounds
        if "s3" in r and "local" in r and r["local"]["rows_per_s"] > 0
    ]


def summarize(results: Results) -> str:
    m = results.machine
    lines = [
        f"## Remote inputs (S3) against local files, {m['date']}",
        "",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gb']} GB, {m['os']}, Python {m['python']}. "
        f"Scale: {results.scale}. Settings: {results.settings}. Load average (1/5/15 min) before: "
        f"{results.load_before}, after: {results.load_after}. CPU pressure (share of wall time some task waited for "
        f"a CPU): {results.cpu_pressure:.0%}. Total {results.wall_s / 60:.1f} min. Values: median [min-max].",
        "",
    ]
    per_round = []
    for i, r in enumerate(results.rounds):
        for mode in MODES:
            if mode in r:
                run = r[mode]
                per_round.append(
                    [
                        str(i + 1),
                        mode,
                        f"{run['rows']:,}",
                        f"{run['rows_per_s']:,.0f}",
                        f"{run['wall_s']:.1f}",
                        f"{run['worker_cpu_s']:.1f}",
                        f"{run['cassandra_cpu_s']:.1f}",
                        f"{run['moto_cpu_s']:.1f}",
                        " / ".join(f"{x:.0f}" for x in run["worker_peak_rss_mb"]),
                        run["load_at_start"],
                    ]
                )
    lines.append(
        table(
            [
                "round",
                "input",
                "rows",
                "rows/s",
                "wall s",
                "worker CPU s",
                "Cassandra CPU s",
                "moto CPU s",
                "worker peak RSS MB",
                "load avg at start",
            ],
            per_round,
        )
    )
    lines += ["", "Medians:", ""]
    summary = []
    for mode in MODES:
        rows = [r[mode] for r in results.rounds if mode in r]
        summary.append(
            [
                mode,
                fmt(_spread(results, mode, "rows_per_s")),
                fmt(_spread(results, mode, "wall_s"), 1),
                fmt(_spread(results, mode, "worker_cpu_s"), 1),
                fmt(_spread(results, mode, "cassandra_cpu_s"), 1),
                fmt(_spread(results, mode, "moto_cpu_s"), 1),
                fmt(Spread.of([_peak(r) for r in rows])),
            ]
        )
    lines.append(
        table(
            [
                "input",
                "rows/s",
                "wall s",
                "worker CPU s",
                "Cassandra CPU s",
                "moto CPU s",
                "worker peak RSS MB (max per run)",
            ],
            summary,
        )
    )
    q = ratios(results)
    if q:
        med = statistics.median(q)
        peak = max((_peak(r[mode]) for r in results.rounds for mode in MODES if mode in r), default=0.0)
        ratio_ok = "met" if med >= RATIO_TARGET else "NOT met"
        rss_ok = "met" if peak <= RSS_TARGET_MB else "NOT met"
        lines += [
            "",
            f"Ratio S3 / local rows/s per round: {', '.join(f'{x:.2f}' for x in q)}; median **{med:.2f}** "
            f"(target >= {RATIO_TARGET}: {ratio_ok}). Worker peak RSS, max over all runs: **{peak:.0f} MB** "
            f"(target <= {RSS_TARGET_MB:.0f} MB: {rss_ok}).",
        ]
    if results.read_only:
        lines += [
            "",
            "Transport alone (inputs read in the bench process through the storage layer, no parsing):",
            "",
        ]
        lines.append(
            table(
                ["input", "MB", "lines", "CPU s", "wall s"],
                [
                    [mode, f"{r['bytes'] / 1e6:.0f}", f"{r['lines']:,.0f}", f"{r['cpu_s']:.2f}", f"{r['wall_s']:.2f}"]
                    for mode, r in results.read_only.items()
                ],
            )
        )
    if results.errors:
        lines += ["", "Errors:", ""] + [f"- {e[:1500]}" for e in results.errors]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="load_txns from local files against the same files on S3 (moto).")
    p.add_argument("--rows", type=int, default=Scale.transactions, help="transactions (rows of load_txns)")
    p.add_argument("--accounts", type=int, default=Scale.accounts)
    p.add_argument("--files", type=int, default=Scale.files, help="transaction files = load batches")
    p.add_argument("--repeats", type=int, default=3, help="rounds of (local, s3) back to back")
    p.add_argument("--workers", type=int, default=2, help="worker processes")
    p.add_argument("--queue", default="capillaries_bench_remote", help="work queue of the benchmark's workers")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    p.add_argument("--out", type=Path, default=Path("/tmp/capillaries-bench"))
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    scale = Scale(args.accounts, args.rows, args.files)
    out: Path = args.out / scale.key()
    if not wait_for_cassandra():
        _log("Cassandra does not answer; start it with `capillaries services up`")
        return 2
    _log(f"generating data under {args.out / 'data'}")
    data = generate(args.out / "data", scale)
    results = Results(
        scale={"accounts": scale.accounts, "transactions": scale.transactions, "files": scale.files},
        settings={
            "workers": args.workers,
            "repeats": args.repeats,
            "block_bytes": os.environ.get("CAPILLARIES_REMOTE_BLOCK_BYTES", "default (8 MiB)"),
        },
        machine=machine_info(),
        load_before=_loadavg(),
    )
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    server = S3Server(out / "logs" / "moto")
    pressure0, wall0 = _cpu_pressure_total_us(), time.monotonic()
    server.start()
    try:
        _log(f"moto S3 server on {server.endpoint_url}; uploading {len(data.txn_files)} files")
        urls = upload(server, data, scale.key())
        local = write_params(
            out / "params_remote_local.json", data.root, data.txn_files, out / "files_remote", staged=True, batches=12
        )
        params = {"local": local, "s3": s3_params(local, urls)}
        cas = cassandra_pids()
        for rnd in range(args.repeats):
            entry: dict[str, dict[str, Any]] = {}
            for mode in MODES:
                _log(f"round {rnd + 1}: {NODE} from {mode} files, {args.workers} workers (load {_loadavg()})")
                try:
                    run = _run_once(mode, rnd + 1, params[mode], args, out, server, cas)
                except Exception as e:  # record and go on: the other runs are still worth having
                    results.errors.append(f"round {rnd + 1} {mode}: {type(e).__name__}: {str(e)[:1500]}")
                    _log(f"  FAILED: {type(e).__name__}: {str(e)[:500]}")
                    wait_for_cassandra()
                    continue
                entry[mode] = run
                _log(
                    f"  {run['rows']:,} rows, {run['rows_per_s']:,.0f} rows/s, wall {run['wall_s']:.1f} s, "
                    f"moto CPU {run['moto_cpu_s']:.1f} s, worker peak RSS {_peak(run):.0f} MB"
                )
            results.rounds.append(entry)
            out.mkdir(parents=True, exist_ok=True)
            (out / "remote_load.json").write_text(json.dumps(asdict(results), indent=1))
        _log("transport alone: reading the inputs in this process, local then s3")
        results.read_only["local"] = read_cost([str(p) for p in data.txn_files], {})
        results.read_only["s3 (first pass: imports, session)"] = read_cost(urls, server.env)
        results.read_only["s3"] = read_cost(urls, server.env)
    finally:
        server.stop()
    results.wall_s = time.monotonic() - wall0
    results.cpu_pressure = (_cpu_pressure_total_us() - pressure0) / 1e6 / results.wall_s
    results.load_after = _loadavg()
    (out / "remote_load.json").write_text(json.dumps(asdict(results), indent=1))
    text = summarize(results)
    (out / "remote_load.md").write_text(text + "\n")
    print(text)
    _log(f"results: {out / 'remote_load.json'}, {out / 'remote_load.md'}")
    return 1 if results.errors else 0


if __name__ == "__main__":
    sys.exit(main())
