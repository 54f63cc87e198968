"""`capillaries worker [--processes N] [--queue NAME] [--metrics-port N]`: run batch-processing worker processes
until SIGTERM."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from capillaries_provider.config import metrics_port, metrics_settings
from capillaries_provider.worker.supervisor import default_processes, run_workers


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("worker", help="consume batch messages and process them (stop with SIGTERM)")
    p.add_argument("--processes", type=int, default=default_processes(), help="worker processes (default: CPU count)")
    p.add_argument("--queue", default=None, help="work queue name (default: CAPILLARIES_AMQP_QUEUE or capillaries)")
    p.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    p.add_argument(
        "--metrics-port",
        default=None,
        help="serve Prometheus metrics of this worker group on this port (default: CAPILLARIES_METRICS_PORT; "
        "unset or 0: off)",
    )
    p.add_argument(
        "--metrics-address",
        default=None,
        help="address the metrics endpoint listens on (default: CAPILLARIES_METRICS_ADDRESS or 127.0.0.1)",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    metrics = metrics_settings()
    if args.metrics_port is not None:
        metrics = dataclasses.replace(metrics, port=metrics_port(args.metrics_port, name="--metrics-port"))
    if args.metrics_address:
        metrics = dataclasses.replace(metrics, address=args.metrics_address)
    return run_workers(args.processes, args.queue, args.log_level, metrics)
