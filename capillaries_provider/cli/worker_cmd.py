"""`capillaries worker [--processes N] [--queue NAME]`: run batch-processing worker processes until SIGTERM."""

from __future__ import annotations

import argparse
from typing import Any

from capillaries_provider.worker.supervisor import default_processes, run_workers


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("worker", help="consume batch messages and process them (stop with SIGTERM)")
    p.add_argument("--processes", type=int, default=default_processes(), help="worker processes (default: CPU count)")
    p.add_argument("--queue", default=None, help="work queue name (default: CAPILLARIES_AMQP_QUEUE or capillaries)")
    p.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    return run_workers(args.processes, args.queue, args.log_level)
