"""Profile one node of the benchmark script inside a real worker: `python -m bench.profile_stage NODE`.

Upstream nodes are run first by ordinary workers; then a single worker process runs under pyinstrument
(main thread: file reading, expression evaluation, key building, statement binding and sending; the driver's
I/O thread is not sampled) while the node runs as its own run. The profile is written as text and HTML next to
the other outputs, and the top of the text is printed.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench.datagen import Scale, generate
from bench.pipeline import CLI, BenchError, Workers, bench_env, drop, start_run, write_params

UPSTREAM = {
    "load_accounts": (),
    "load_holdings": (),
    "load_txns": (),
    "txn_positions": ("load_txns", "load_holdings"),
    "account_activity": ("load_accounts", "load_txns"),
    "txn_scored": ("load_txns", "load_holdings", "txn_positions"),
    "file_scored": ("load_txns", "load_holdings", "txn_positions", "txn_scored"),
}


def serve_profiled(out: Path, profiler_name: str) -> None:
    """Entry of the profiled worker process: `serve()` with every batch's processing profiled.

    The consumer runs the batch handler in its own thread, so profiling is switched on around each
    `BatchProcessor.process` call (in that thread). `cprofile` uses the thread's CPU clock (on a shared machine,
    wall-clock samples also count time spent waiting for a CPU); `pyinstrument` samples wall-clock time. The two
    cannot run together (both hook the same thread's profile function).
    """
    from pyinstrument import Profiler
    from pyinstrument.renderers import ConsoleRenderer, HTMLRenderer
    from pyinstrument.session import Session

    from capillaries_provider.engine.batch import BatchProcessor
    from capillaries_provider.worker import logs
    from capillaries_provider.worker.process import serve

    sessions: list[Session] = []
    cpu_profile = cProfile.Profile(time.thread_time)
    original = BatchProcessor.process

    def with_cprofile(self: BatchProcessor, task: Any) -> Any:
        cpu_profile.enable()
        try:
            return original(self, task)
        finally:
            cpu_profile.disable()

    def with_pyinstrument(self: BatchProcessor, task: Any) -> Any:
        profiler = Profiler(interval=0.001)
        profiler.start()
        try:
            return original(self, task)
        finally:
            sessions.append(profiler.stop())

    BatchProcessor.process = with_cprofile if profiler_name == "cprofile" else with_pyinstrument  # type: ignore[method-assign]
    logs.setup("WARNING")
    try:
        serve(None)
    finally:
        if profiler_name == "cprofile":
            cpu_profile.dump_stats(out.with_suffix(".prof"))
            text = io.StringIO()
            stats = pstats.Stats(cpu_profile, stream=text)
            stats.sort_stats("tottime").print_stats(35)
            stats.sort_stats("cumulative").print_stats(35)
            out.write_text(text.getvalue())
        elif sessions:
            combined = sessions[0]
            for more in sessions[1:]:
                combined = Session.combine(combined, more)
            out.with_suffix(".html").write_text(HTMLRenderer().render(combined))
            flat = ConsoleRenderer(flat=True, time="percent_of_total").render(combined)
            tree = ConsoleRenderer(time="percent_of_total").render(combined)
            out.write_text(flat + "\n" + tree)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("node", choices=sorted(UPSTREAM))
    p.add_argument("--transactions", type=int, default=100_000)
    p.add_argument("--accounts", type=int, default=1000)
    p.add_argument("--files", type=int, default=2)
    p.add_argument("--batches", type=int, default=2)
    p.add_argument("--queue", default="capillaries_bench_profile")
    p.add_argument("--out", type=Path, default=Path("/tmp/capillaries-bench/profiles"))
    p.add_argument("--profiler", choices=("cprofile", "pyinstrument"), default="cprofile")
    p.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.serve:
        serve_profiled(a.serve, a.profiler)
        return 0
    data = generate(Path("/tmp/capillaries-bench/data"), Scale(a.accounts, a.transactions, a.files))
    params = write_params(
        a.out / "params.json", data.root, data.txn_files, a.out / "files", staged=True, batches=a.batches
    )
    ks = f"bench_prof_{uuid.uuid4().hex[:8]}"
    out = a.out / f"{a.node}.{a.profiler}.txt"
    try:
        if UPSTREAM[a.node]:
            with Workers(2, a.queue, a.out / "upstream_workers.log"):
                for node in UPSTREAM[a.node]:
                    start_run(ks, params, [node], a.queue, 3600)
        worker = subprocess.Popen(
            [*CLI[:1], "-m", "bench.profile_stage", a.node, "--profiler", a.profiler, "--serve", str(out)],
            env=bench_env(a.queue),
            start_new_session=True,
        )
        time.sleep(8)  # connect to Cassandra and the broker before the run's messages arrive
        try:
            _, wall, _ = start_run(ks, params, [a.node], a.queue, 3600)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=120)
        print(f"{a.node}: {wall:.1f} s; profile: {out}")
        print(out.read_text())
    except BenchError as e:
        print(e, file=sys.stderr)
        return 1
    finally:
        drop(ks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
