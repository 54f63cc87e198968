"""`capillaries exec-node`: run one node's batches in this process, without the queue (Go's toolbelt `exec_node`).

For debugging a node against real Cassandra with a debugger or print statements at hand: no worker, no RabbitMQ.
Exits 0 when every batch succeeded, 1 when one failed (Go exits 0 then) or the node could not run, 2 on bad input.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from capillaries_provider.cli.run_cmd import EXIT_FAILED, EXIT_USAGE, connect_backend, load_run_script, print_err
from capillaries_provider.engine.batch import BatchOutcome
from capillaries_provider.engine.exec_node import ExecNodeError, exec_node
from capillaries_provider.engine.ports import BatchTask


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("exec-node", help="run one node's batches in this process, without queue or workers")
    p.add_argument("--keyspace", required=True)
    p.add_argument("--script", required=True, help="script file or URL (.json or .yaml)")
    p.add_argument("--params", default="", help="script parameters file or URL")
    p.add_argument("--node", required=True, help="the node to run")
    p.add_argument(
        "--run-id", type=int, default=0, help="add to this started run instead of a new one (careful: it changes it)"
    )
    p.set_defaults(func=run)


def _print_batch(task: BatchTask, outcome: BatchOutcome) -> None:
    status = outcome.recorded.label if outcome.recorded is not None else outcome.decision.value
    print(f"batch {task.batch_idx + 1}/{task.batches_total}: {status}: {outcome.detail}", flush=True)


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    loaded = load_run_script(args)
    if loaded is None:
        return EXIT_USAGE
    if args.node not in loaded.script.nodes:
        print_err(f"error: node {args.node} is not in script {loaded.script.file}")
        return EXIT_USAGE
    backend = connect_backend()
    if backend is None:
        return EXIT_FAILED
    try:
        result = exec_node(
            backend,
            loaded.script,
            args.node,
            ks=args.keyspace,
            run_id=args.run_id,
            script_url=loaded.script_url,
            script_params_url=loaded.params_url,
            on_batch=_print_batch,
        )
    except ExecNodeError as e:
        print_err(f"error: {e}")
        return EXIT_FAILED
    finally:
        backend.close()
    print(f"run {result.run_id}, elapsed {time.monotonic() - started:.3f}s", flush=True)
    if result.failed:
        print_err(f"node {args.node}: {len(result.failed)} of {len(result.outcomes)} batches failed")
        return EXIT_FAILED
    return 0
