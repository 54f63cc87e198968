"""`make bench` / `python -m bench.run`: the whole performance benchmark in one invocation.

Generates the portfolio data set (bench/datagen.py), then measures, each `--repeats` times:
1. the raw Cassandra ceiling for the load stage's table shapes at 1, 2, 4 writer processes (bench/ceiling.py);
2. every stage of the benchmark script (bench/portfolio/script.json) as its own run through
   `capillaries run start --wait` with `--workers` worker processes: rows/s, worker and Cassandra CPU seconds per
   1M rows, and for the load stage the ratio to the ceiling;
3. the load stage alone with 1, 2, 4 worker processes (the scaling curve, saved as docs/load_scaling.png);
4. the whole script end to end with `capillaries run start --wait`, and through Airflow (bench/airflow_e2e.py);
5. peak RSS of every worker process (and of py_calc children) from /proc.
It also runs the micro benchmarks bench/bench_expr.py, bench/bench_script_load.py and bench/bench_dag_parse.py
(the DAG parse budget). Results are printed as Markdown tables and saved as JSON under the output folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import platform
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import airflow_e2e, ceiling
from bench.datagen import DataSet, Scale, generate
from bench.pipeline import (
    REPO,
    StageResult,
    Workers,
    drop,
    run_stage,
    start_run,
    wait_for_cassandra,
    write_params,
)
from bench.procwatch import cassandra_pids
from bench.report import Spread, fmt, plot_scaling, table

LOAD_NODES = ("load_accounts", "load_holdings", "load_txns")
# Stage name -> nodes, in dependency order; each node is its own measured run.
STAGES: dict[str, tuple[str, ...]] = {
    "load": LOAD_NODES,
    "lookup": ("txn_positions", "account_activity"),
    "py_calc": ("txn_scored",),
    "file": ("file_scored", "file_account_activity"),
}
MICRO = ("bench_expr.py", "bench_script_load.py", "bench_dag_parse.py")


@dataclass
class Results:
    """Everything measured in one invocation (saved as JSON; the tables are computed from it)."""

    scale: dict[str, int]
    settings: dict[str, Any]
    machine: dict[str, Any]
    # Keyed by `<processes>x<inserts per request>`.
    ceiling: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    stages: list[list[dict[str, Any]]] = field(default_factory=list)
    curve: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    # Back-to-back pairs: {"ceiling": <raw writer result>, "load": <load_txns stage>}.
    paired: list[dict[str, Any]] = field(default_factory=list)
    e2e_cli_s: list[float] = field(default_factory=list)
    e2e_airflow_s: list[float] = field(default_factory=list)
    airflow_note: str = ""
    rss_mb: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    micro: dict[str, str] = field(default_factory=dict)
    cpu_pressure: float = 0.0


def _cpu_pressure_total_us() -> int:
    """Cumulative microseconds in which some runnable task waited for a CPU (Linux PSI); 0 if unavailable."""
    try:
        first = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return 0
    return int(first.rsplit("total=", 1)[1])


def machine_info() -> dict[str, Any]:
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    os_name = "unknown"
    release = Path("/etc/os-release")
    if release.exists():
        for line in release.read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    cpu_model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "os": os_name,
        "python": platform.python_version(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _stage_dict(stage: StageResult) -> dict[str, Any]:
    d = asdict(stage)
    d["rows"] = stage.rows
    d["span_s"] = stage.span_s
    return d


def _keyspace(tag: str) -> str:
    return f"bench_{tag}_{uuid.uuid4().hex[:8]}"


def _log(text: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {text}", file=sys.stderr, flush=True)


def run_micro(results: Results) -> None:
    for name in MICRO:
        path = REPO / "bench" / name
        if not path.exists():
            results.micro[name] = "missing"
            continue
        _log(f"micro benchmark {name}")
        done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, cwd=REPO, check=False)
        results.micro[name] = (done.stdout + done.stderr).strip()


def run_ceiling(results: Results, args: argparse.Namespace) -> None:
    for per_batch in args.ceiling_modes:
        for concurrency in args.ceiling_concurrency:
            for procs in args.curve:
                key = f"{procs}x{per_batch}c{concurrency}"
                for rep in range(args.repeats):
                    _log(
                        f"raw ceiling: {args.ceiling_rows} rows, {key} (processes x per request, in flight), {rep + 1}"
                    )
                    results.ceiling.setdefault(key, []).append(_raw_ceiling(args, procs, per_batch, concurrency))


def _raw_ceiling(args: argparse.Namespace, procs: int, per_batch: int, concurrency: int) -> dict[str, float]:
    """One raw-writer measurement in a keyspace of its own, as recorded in the results."""
    ks = _keyspace("raw")
    try:
        r = ceiling.measure(ks, args.ceiling_rows, procs, args.accounts, per_batch=per_batch, concurrency=concurrency)
        return asdict(r) | {"rows_per_s": r.rows_per_s}
    finally:
        drop_quietly(ks)


def _retrying(what: str, results: Results, attempt: Callable[[], None], tries: int = 3) -> None:
    """Run one repeat; if it fails (a shared machine's Cassandra may be restarted under us), wait and redo it."""
    for n in range(tries):
        try:
            attempt()
            return
        except Exception as e:
            results.errors.append(f"{what} (attempt {n + 1}/{tries}): {type(e).__name__}: {str(e)[:1500]}")
            _log(f"  FAILED ({what}, attempt {n + 1}): {type(e).__name__}: {str(e)[:500]}")
            wait_for_cassandra()


def _staged_params(args: argparse.Namespace, data: DataSet, out: Path) -> Path:
    """Parameters for running one node at a time (later nodes `manual`), shared by stages, curve and pairs."""
    return write_params(
        out / "params_staged.json", data.root, data.txn_files, out / "files", staged=True, batches=args.batches
    )


def _last_stage(stages: set[str]) -> int:
    return max(i for i, s in enumerate(STAGES) if s in stages)


def run_stages(results: Results, args: argparse.Namespace, data: DataSet, out: Path) -> None:
    """Every node as its own run, stage by stage, in a fresh keyspace per repeat; per-stage failures are recorded."""
    params = _staged_params(args, data, out)
    cas = cassandra_pids()
    # Each stage reads the tables of the stages before it: run the chain up to the last stage asked for.
    wanted = [(stage, node) for stage in list(STAGES)[: _last_stage(args.stages) + 1] for node in STAGES[stage]]
    if args.nodes:
        wanted = [(stage, node) for stage, node in wanted if node in args.nodes]
    with Workers(args.workers, args.queue, out / "logs" / "workers_staged.log") as workers:

        def repeat(rep: int) -> None:
            ks = _keyspace("stage")
            runs: list[dict[str, Any]] = []
            try:
                for stage, node in wanted:
                    _log(f"stage {stage}: {node} ({args.workers} workers), repeat {rep + 1}")
                    r = run_stage(f"{stage}/{node}", ks, params, [node], workers, timeout_s=args.timeout, cassandra=cas)
                    runs.append(_stage_dict(r))
                    _log(f"  {r.rows} rows in {r.span_s:.1f} s, worker CPU {r.worker_cpu_s:.1f} s")
                results.stages.append(runs)
            finally:
                drop_quietly(ks)

        for rep in range(args.repeats):
            _retrying(f"staged repeat {rep + 1}", results, functools.partial(repeat, rep))
        rss = workers.peak_rss()
    _merge_rss(results, rss)


def run_curve(results: Results, args: argparse.Namespace, data: DataSet, out: Path) -> None:
    params = _staged_params(args, data, out)
    cas = cassandra_pids()
    for procs in args.curve:
        with Workers(procs, args.queue, out / "logs" / f"workers_curve_{procs}.log") as workers:

            def repeat(rep: int, procs: int = procs, workers: Workers = workers) -> None:
                ks = _keyspace("curve")
                _log(f"load curve: load_txns with {procs} worker processes, repeat {rep + 1}")
                try:
                    r = run_stage(
                        "load/load_txns", ks, params, ["load_txns"], workers, timeout_s=args.timeout, cassandra=cas
                    )
                    results.curve.setdefault(procs, []).append(_stage_dict(r))
                    _log(f"  {r.rows} rows in {r.span_s:.1f} s")
                finally:
                    drop_quietly(ks)

            for rep in range(args.repeats):
                _retrying(f"curve {procs} processes repeat {rep + 1}", results, functools.partial(repeat, rep))
            _merge_rss(results, workers.peak_rss())


def run_paired(results: Results, args: argparse.Namespace, data: DataSet, out: Path) -> None:
    """The raw ceiling and then load_txns alone, back to back, `repeats` times, at `--workers` processes.

    This machine's speed drifts (Cassandra's CPU per row of the same writes moved by a quarter within one
    invocation), so a ratio of medians measured half an hour apart measures the drift too; a pair does not.
    """
    params = _staged_params(args, data, out)
    cas = cassandra_pids()
    procs = args.workers
    with Workers(procs, args.queue, out / "logs" / "workers_paired.log") as workers:

        def repeat(rep: int) -> None:
            _log(f"pair {rep + 1}: raw ceiling, then load_txns, {procs} processes")
            raw = _raw_ceiling(args, procs, args.ceiling_modes[0], args.ceiling_concurrency[0])
            ks = _keyspace("pair")
            try:
                r = run_stage(
                    "load/load_txns", ks, params, ["load_txns"], workers, timeout_s=args.timeout, cassandra=cas
                )
                results.paired.append({"ceiling": raw, "load": _stage_dict(r)})
                _log(f"  raw {raw['rows_per_s']:,.0f} rows/s, load {r.rows / r.span_s:,.0f} rows/s")
            finally:
                drop_quietly(ks)

        for rep in range(args.repeats):
            _retrying(f"pair {rep + 1}", results, functools.partial(repeat, rep))
        _merge_rss(results, workers.peak_rss())


def run_e2e(results: Results, args: argparse.Namespace, data: DataSet, out: Path) -> None:
    params = write_params(
        out / "params_e2e.json", data.root, data.txn_files, out / "files_e2e", staged=False, batches=args.batches
    )
    with Workers(args.workers, args.queue, out / "logs" / "workers_e2e.log") as workers:

        def repeat(rep: int) -> None:
            ks = _keyspace("e2e")
            _log(f"end to end via `capillaries run start --wait`, repeat {rep + 1}")
            try:
                _, wall, _ = start_run(ks, params, LOAD_NODES, workers.queue, args.timeout)
                results.e2e_cli_s.append(wall)
                _log(f"  {wall:.1f} s")
            finally:
                drop_quietly(ks)

        for rep in range(0 if "e2e" in args.skip else args.repeats):
            _retrying(f"e2e cli repeat {rep + 1}", results, functools.partial(repeat, rep))
        if not args.skip_airflow:
            try:
                results.e2e_airflow_s, results.airflow_note = airflow_e2e.measure(
                    params, LOAD_NODES, args.repeats, workers.queue, args.timeout, _log
                )
            except Exception as e:  # not measured is a result; the reason goes into the report
                results.airflow_note = f"not measured: {type(e).__name__}: {e}"
        _merge_rss(results, workers.peak_rss())


def drop_quietly(ks: str) -> None:
    try:
        drop(ks)
    except Exception as e:  # a leftover keyspace is not worth losing a measurement for
        _log(f"  could not drop {ks}: {type(e).__name__}: {e}")


def _merge_rss(results: Results, rss: dict[str, list[float]]) -> None:
    for role in ("worker", "py_calc"):
        if rss.get(role):
            results.rss_mb[role] = max(results.rss_mb.get(role, 0.0), *rss[role])


# -- summary ----------------------------------------------------------------------------------------------------


def _per_m(value: float, rows: int) -> float:
    return value / rows * 1e6 if rows else 0.0


def _ceiling_key(key: str) -> tuple[int, int, int]:
    """(processes, inserts per request, requests in flight) of a ceiling key like `2x10c512`."""
    procs, rest = key.split("x")
    per_batch, _, conc = rest.partition("c")
    return int(procs), int(per_batch), int(conc or ceiling.DEFAULT_CONCURRENCY)


def ceiling_at(results: Results, processes: int) -> Spread | None:
    """The raw ceiling at a process count: the best (by median) of the measured request modes."""
    spreads = [
        Spread.of([c["rows_per_s"] for c in runs])
        for key, runs in results.ceiling.items()
        if _ceiling_key(key)[0] == processes
    ]
    return max((s for s in spreads if s is not None), key=lambda s: s.median, default=None)


def _rate(runs: list[dict[str, Any]]) -> Spread | None:
    return Spread.of([r["rows"] / r["span_s"] for r in runs if r["span_s"] > 0])


def stage_rows(results: Results) -> list[list[str]]:
    """One line per node: rows, rows/s (span of its batches), worker and Cassandra CPU s per 1M rows."""
    by_node: dict[str, list[dict[str, Any]]] = {}
    for rep in results.stages:
        for s in rep:
            by_node.setdefault(s["name"], []).append(s)
    raw = ceiling_at(results, int(results.settings["workers"]))
    out = []
    for name, runs in by_node.items():
        rate = _rate(runs)
        ratio = ""
        if name == "load/load_txns" and raw is not None and rate is not None:
            ratio = f"{rate.median / raw.median:.0%}"
        out.append(
            [
                name,
                f"{runs[0]['rows']:,}",
                fmt(rate),
                fmt(Spread.of([_per_m(r["worker_cpu_s"], r["rows"]) for r in runs])),
                fmt(Spread.of([_per_m(r["cassandra_cpu_s"], r["rows"]) for r in runs])),
                fmt(Spread.of([r["wall_s"] for r in runs]), 1),
                ratio,
            ]
        )
    return out


def ceiling_rows(results: Results) -> list[list[str]]:
    out = []
    for key, runs in sorted(results.ceiling.items(), key=lambda kv: _ceiling_key(kv[0])):
        procs, per_batch, concurrency = _ceiling_key(key)
        out.append(
            [
                str(procs),
                "1 (single inserts)" if per_batch == 1 else f"{per_batch} (UNLOGGED batch)",
                str(concurrency),
                fmt(Spread.of([c["rows_per_s"] for c in runs])),
                fmt(Spread.of([_per_m(c["client_cpu_s"], int(c["rows"])) for c in runs])),
                fmt(Spread.of([_per_m(c["cassandra_cpu_s"], int(c["rows"])) for c in runs])),
            ]
        )
    return out


def paired_rows(results: Results) -> list[list[str]]:
    """One line per back-to-back pair, then the medians [min-max] of the rates and of the pairs' ratios."""
    raw = [p["ceiling"]["rows_per_s"] for p in results.paired]
    load = [p["load"]["rows"] / p["load"]["span_s"] for p in results.paired]
    ratios = [lo / r for lo, r in zip(load, raw, strict=True)]
    rows = [
        [str(i + 1), f"{r:,.0f}", f"{lo:,.0f}", f"{q:.0%}"]
        for i, (r, lo, q) in enumerate(zip(raw, load, ratios, strict=True))
    ]
    spread = Spread.of(ratios)
    assert spread is not None
    ratio = f"{spread.median:.0%} [{spread.low:.0%}-{spread.high:.0%}]"
    return [*rows, ["median", fmt(Spread.of(raw)), fmt(Spread.of(load)), ratio]]


def summarize(results: Results) -> str:
    parts = [f"## Benchmark {results.machine['date']}", ""]
    m = results.machine
    parts.append(
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gb']} GB, {m['os']}, Python {m['python']}. "
        f"Scale: {results.scale}. Settings: {results.settings}. CPU pressure (share of wall time some task waited "
        f"for a CPU): {results.cpu_pressure:.0%}. Values: median [min-max] of the repeats."
    )
    parts += ["", "### Stages (each node its own run)", ""]
    parts.append(
        table(
            [
                "stage/node",
                "rows",
                "rows/s",
                "worker CPU s / 1M rows",
                "Cassandra CPU s / 1M rows",
                "run wall s",
                "vs raw ceiling",
            ],
            stage_rows(results),
        )
    )
    parts += ["", "### Raw Cassandra ceiling (minimal cassandra-driver writer, same table shapes)", ""]
    parts.append(
        table(
            [
                "processes",
                "inserts per request",
                "requests in flight per process",
                "rows/s",
                "client CPU s / 1M rows",
                "Cassandra CPU s / 1M rows",
            ],
            ceiling_rows(results),
        )
    )
    parts += ["", "### Load scaling (load_txns alone) against the raw ceiling", ""]
    rows = []
    procs = sorted(set(results.curve) | {_ceiling_key(k)[0] for k in results.ceiling})
    for p in procs:
        load = _rate(results.curve.get(p, []))
        raw = ceiling_at(results, p)
        ratio = f"{load.median / raw.median:.0%}" if load and raw else ""
        rows.append([str(p), fmt(load), fmt(raw), ratio])
    parts.append(table(["processes", "load rows/s", "raw ceiling rows/s", "ratio"], rows))
    if results.paired:
        parts += ["", f"### Load against the raw ceiling, back to back ({results.settings['workers']} processes)", ""]
        parts.append(table(["pair", "raw ceiling rows/s", "load rows/s", "ratio"], paired_rows(results)))
    parts += ["", "### End to end (whole script)", ""]
    parts.append(
        table(
            ["path", "wall s"],
            [
                ["capillaries run start --wait", fmt(Spread.of(results.e2e_cli_s), 1)],
                ["Airflow (CapillariesDag)", fmt(Spread.of(results.e2e_airflow_s), 1)],
            ],
        )
    )
    if results.airflow_note:
        parts.append(f"\nAirflow: {results.airflow_note}")
    parts += ["", "### Peak RSS", ""]
    parts.append(
        table(
            ["process", "peak RSS MB (max over all processes of that kind)"],
            [[role, f"{mb:.0f}"] for role, mb in sorted(results.rss_mb.items())] or [["worker", "not measured"]],
        )
    )
    if results.errors:
        parts += ["", "### Errors", ""] + [f"- {e[:1500]}" for e in results.errors]
    for name, text in results.micro.items():
        parts += ["", f"### {name}", "", "```", text, "```"]
    return "\n".join(parts)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Capillaries provider performance benchmark (docs/performance.md).")
    p.add_argument("--transactions", type=int, default=Scale.transactions)
    p.add_argument("--accounts", type=int, default=Scale.accounts)
    p.add_argument("--files", type=int, default=Scale.files, help="transaction files = load batches")
    p.add_argument("--batches", type=int, default=12, help="expected_batches_total of table-reading nodes")
    p.add_argument("--workers", type=int, default=2, help="worker processes for stages and end-to-end runs")
    p.add_argument("--curve", default="1,2,4", help="process counts of the load scaling curve")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--ceiling-rows", type=int, default=None, help="rows per raw-ceiling measurement")
    p.add_argument(
        "--ceiling-concurrency", default="512", help="requests in flight per raw writer process (comma list)"
    )
    p.add_argument(
        "--ceiling-modes", default="10", help="inserts per request of the raw writer: 10 (batched, the ceiling), 1"
    )
    p.add_argument(
        "--stages",
        default=",".join(STAGES),
        help=f"subset of {','.join(STAGES)}; the stages before the last one named run too (they make its input)",
    )
    p.add_argument(
        "--nodes",
        default="",
        help="run only these nodes of the chosen stages (comma list; their inputs must be among them)",
    )
    p.add_argument("--skip", default="", help="comma list of: micro,ceiling,stages,curve,paired,e2e,airflow")
    p.add_argument("--quick", action="store_true", help="smoke run: 100k transactions, 100 accounts, 1 repeat")
    p.add_argument("--queue", default="capillaries_bench", help="work queue of the benchmark's workers")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    p.add_argument("--out", type=Path, default=Path("/tmp/capillaries-bench"))
    p.add_argument("--plot", type=Path, default=REPO / "docs" / "load_scaling.png")
    a = p.parse_args(argv)
    if a.quick:
        a.transactions, a.accounts, a.repeats = 100_000, 100, 1
    a.curve = [int(x) for x in a.curve.split(",") if x]
    a.ceiling_modes = [int(x) for x in a.ceiling_modes.split(",") if x]
    a.ceiling_concurrency = [int(x) for x in a.ceiling_concurrency.split(",") if x]
    a.stages = {s for s in a.stages.split(",") if s}
    if not a.stages or a.stages - set(STAGES):
        p.error(f"--stages takes names from {','.join(STAGES)}, got {sorted(a.stages)}")
    a.nodes = {n for n in a.nodes.split(",") if n}
    chain = {n for stage in list(STAGES)[: _last_stage(a.stages) + 1] for n in STAGES[stage]}
    if a.nodes - chain:
        p.error(f"--nodes takes nodes of the stages run ({','.join(sorted(chain))}), got {sorted(a.nodes)}")
    a.skip = {s for s in a.skip.split(",") if s}
    a.skip_airflow = "airflow" in a.skip
    if a.ceiling_rows is None:
        a.ceiling_rows = a.transactions
    return a


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so worker processes started here are stopped rather than left consuming.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    scale = Scale(args.accounts, args.transactions, args.files)
    out: Path = args.out / scale.key()
    if not wait_for_cassandra():
        _log("Cassandra does not answer; start it with `capillaries services up`")
        return 2
    _log(f"generating data under {args.out / 'data'}")
    data = generate(args.out / "data", scale)
    results = Results(
        scale={
            "accounts": scale.accounts,
            "transactions": scale.transactions,
            "holdings": scale.holdings,
            "files": scale.files,
        },
        settings={
            "workers": args.workers,
            "repeats": args.repeats,
            "batches": args.batches,
            "ceiling_concurrency": args.ceiling_concurrency,
            "ceiling_rows": args.ceiling_rows,
        },
        machine=machine_info(),
    )
    pressure0, wall0 = _cpu_pressure_total_us(), time.monotonic()
    steps: list[tuple[str, Callable[[], None]]] = [
        ("micro", lambda: run_micro(results)),
        ("ceiling", lambda: run_ceiling(results, args)),
        ("stages", lambda: run_stages(results, args, data, out)),
        ("curve", lambda: run_curve(results, args, data, out)),
        ("paired", lambda: run_paired(results, args, data, out)),
    ]
    if not {"e2e", "airflow"} <= args.skip:
        steps.append(("e2e/airflow", lambda: run_e2e(results, args, data, out)))
    for name, step in steps:
        if name in args.skip:
            continue
        try:
            step()
        except Exception as e:  # one broken step must not cost the measurements of the others
            results.errors.append(f"{name}: {type(e).__name__}: {e}")
            _log(f"{name} FAILED: {type(e).__name__}: {e}")
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(asdict(results), indent=1))  # partial results survive a kill
    wall = time.monotonic() - wall0
    results.cpu_pressure = (_cpu_pressure_total_us() - pressure0) / 1e6 / wall if wall else 0.0
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(asdict(results), indent=1))
    if results.curve or results.ceiling:
        load = [_rate(results.curve.get(p, [])) for p in args.curve]
        raw = {"raw cassandra-driver writer (best window)": [ceiling_at(results, p) for p in args.curve]}
        plot_scaling(
            args.plot,
            args.curve,
            load,
            raw,
            f"load_txns: {scale.transactions:,} rows x 8 columns + 1 non-unique index "
            f"(median, min-max of {args.repeats})",
        )
    text = summarize(results)
    (out / "summary.md").write_text(text + "\n")
    print(text)
    _log(f"results: {out / 'results.json'}, {out / 'summary.md'}")
    return 1 if results.errors else 0


if __name__ == "__main__":
    sys.exit(main())
