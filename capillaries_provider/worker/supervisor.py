"""`capillaries worker --processes N`: N worker processes (spawned, each with its own connections) kept alive.

SIGTERM/SIGINT is forwarded to every child, which finishes its in-flight batch and exits; the supervisor returns
once all children are gone. A child that dies unexpectedly (crash, OOM kill) is restarted with back-off; its
unacknowledged message is redelivered by the broker. A child that exits with `retry.EXIT_CONFIG` (its settings can
never work: credentials, TLS) is not restarted; when no child is left the supervisor exits with that code.

With a metrics port the supervisor serves the group's Prometheus endpoint, summing what every child wrote into
the group's multiprocess directory (worker/metrics.py).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import time
from multiprocessing.process import BaseProcess
from types import FrameType

from capillaries_provider.config import MetricsSettings
from capillaries_provider.retry import EXIT_CONFIG, WORKER_RESTART
from capillaries_provider.worker import logs
from capillaries_provider.worker.metrics import MetricsExporter

log = logging.getLogger("capillaries.worker")

NO_METRICS = MetricsSettings()
POLL_S = 0.5


def _child_main(queue: str | None, level: str, metrics_on: bool) -> None:
    from capillaries_provider.worker.process import serve

    logs.setup(level)
    code = serve(queue, metrics_on=metrics_on)
    # serve() has closed its connections; leave without joining library threads at interpreter exit (a failed
    # cassandra-driver Cluster can leave executor work behind that would keep a stopped worker alive).
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def default_processes() -> int:
    return os.cpu_count() or 1


def run_workers(
    processes: int, queue: str | None = None, level: str = "INFO", metrics: MetricsSettings = NO_METRICS
) -> int:
    """Run `processes` worker processes until a stop signal; returns 0 after a clean stop, EXIT_CONFIG when every
    process stopped for its settings."""
    if processes < 1:
        raise ValueError("--processes must be at least 1")
    logs.setup(level)
    # Before any child starts: the children find the multiprocess directory in the environment they inherit. A
    # port in use fails the command here, before any work is taken.
    exporter = MetricsExporter(metrics.address, metrics.port) if metrics.port else None
    if exporter is not None:
        log.info("serving metrics on http://%s:%d/metrics", metrics.address, exporter.port)
    try:
        return _supervise(processes, queue, level, exporter)
    finally:
        if exporter is not None:
            exporter.close()


def _supervise(processes: int, queue: str | None, level: str, exporter: MetricsExporter | None) -> int:
    ctx = multiprocessing.get_context("spawn")
    stopping = False

    def start(slot: int) -> BaseProcess:
        child = ctx.Process(
            target=_child_main, args=(queue, level, exporter is not None), name=f"capillaries-worker-{slot}"
        )
        child.start()
        log.info("started worker process %d (pid %s)", slot, child.pid)
        return child

    def gone(child: BaseProcess) -> None:
        if exporter is not None and child.pid is not None:
            exporter.process_dead(child.pid)

    children = [start(i) for i in range(processes)]
    failures = [0] * processes
    restart_at = [0.0] * processes
    misconfigured = [False] * processes

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.is_alive() and child.pid is not None:
                os.kill(child.pid, signal.SIGTERM)

    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, on_signal)
    while True:
        alive = [c.is_alive() for c in children]
        if stopping:
            if not any(alive):
                break
        elif all(misconfigured):
            log.error("every worker process stopped for its settings; the supervisor stops too")
            return EXIT_CONFIG
        else:
            now = time.monotonic()
            for slot, child in enumerate(children):
                if alive[slot] or misconfigured[slot]:
                    continue
                if child.exitcode == EXIT_CONFIG:
                    gone(child)
                    misconfigured[slot] = True
                    log.error("worker process %d stopped for its settings (see its error above); not restarting", slot)
                    continue
                if restart_at[slot] == 0.0:
                    gone(child)
                    delay = WORKER_RESTART.delay_s(failures[slot] + 1)
                    log.error(
                        "worker process %d exited with code %s; restarting in %.0f s", slot, child.exitcode, delay
                    )
                    failures[slot] += 1
                    restart_at[slot] = now + delay
                elif now >= restart_at[slot]:
                    restart_at[slot] = 0.0
                    children[slot] = start(slot)
        time.sleep(POLL_S)
    for slot, child in enumerate(children):
        child.join()
        if not misconfigured[slot]:
            gone(child)
    log.info("all worker processes stopped")
    return 0
