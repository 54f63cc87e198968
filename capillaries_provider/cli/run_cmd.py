"""`capillaries run start|stop|status|history` and `capillaries keyspace drop` (toolbelt equivalents, spec 8.2)."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Any

from capillaries_provider.cli.history import (
    BATCH_COLUMNS,
    FORMATS,
    NODE_COLUMNS,
    RUN_COLUMNS,
    batch_rows,
    node_rows,
    render,
    run_rows,
)
from capillaries_provider.cli.run_report import describe, run_report, wait_for_run
from capillaries_provider.config import amqp_settings, cassandra_settings
from capillaries_provider.engine.ports import Driver
from capillaries_provider.engine.run import start_run, stop_run
from capillaries_provider.retry import CLI_CONNECT, PermanentError, cassandra_permanent, cassandra_transient
from capillaries_provider.script.errors import ScriptLoadError
from capillaries_provider.script.loader import load_script
from capillaries_provider.script.model import Script
from capillaries_provider.script.names import validate_keyspace_name
from capillaries_provider.storage.urls import url_scheme
from capillaries_provider.store.session import close, connect, drop_keyspace, keyspace_exists
from capillaries_provider.store.workflow import WorkflowStore, distinct_node_events
from capillaries_provider.worker.backend import CassandraBackend

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 3


def register(subparsers: Any) -> None:
    run = subparsers.add_parser("run", help="start, stop and inspect runs")
    actions = run.add_subparsers(dest="action", required=True)

    start = actions.add_parser("start", help="start a run; prints the run id")
    start.add_argument("--keyspace", required=True)
    start.add_argument("--script", required=True, help="script file or URL (.json or .yaml)")
    start.add_argument("--params", default="", help="script parameters file or URL")
    start.add_argument("--start-nodes", required=True, help="comma-separated node names")
    start.add_argument("--description", default="started by capillaries run start")
    start.add_argument("--wait", action="store_true", help="wait for the run to finish; exit 0 only if all succeeded")
    start.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait with --wait")
    start.set_defaults(func=_start)

    stop = actions.add_parser("stop", help="stop a run: batches delivered later are marked stopreceived")
    stop.add_argument("--keyspace", required=True)
    stop.add_argument("--run-id", type=int, required=True)
    stop.add_argument("--comment", default="stopped by capillaries run stop")
    stop.set_defaults(func=_stop)

    status = actions.add_parser("status", help="runs, node statuses and batch progress")
    status.add_argument("--keyspace", required=True)
    status.add_argument("--run-id", type=int, default=None)
    status.set_defaults(func=_status)

    history = actions.add_parser(
        "history",
        help="run history of a keyspace; with --run-id node history of those runs; with --node too, batch history",
    )
    history.add_argument("--keyspace", required=True)
    history.add_argument(
        "--run-id", type=int, action="append", dest="run_ids", help="node history of this run (repeatable)"
    )
    history.add_argument("--node", default=None, help="batch history of this node (needs one --run-id)")
    history.add_argument("--format", choices=FORMATS, default="table")
    history.set_defaults(func=_history)

    keyspace = subparsers.add_parser("keyspace", help="keyspace maintenance")
    ks_actions = keyspace.add_subparsers(dest="action", required=True)
    drop = ks_actions.add_parser("drop", help="drop a keyspace and everything in it")
    drop.add_argument("keyspace")
    drop.set_defaults(func=_drop)


def absolute_url(url: str) -> str:
    """Workers may run elsewhere: local paths are stored absolute in messages and run properties."""
    return os.path.abspath(url) if url and url_scheme(url) == "" else url


def print_err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def connect_backend() -> CassandraBackend | None:
    """Connect under CLI_CONNECT (rides out a Cassandra restart of about half a minute); None, the error printed,
    when it cannot: at once for bad settings, credentials or TLS."""
    try:
        cassandra, amqp = cassandra_settings(), amqp_settings()
    except ValueError as e:  # the settings' messages name the variable
        print_err(f"error: {e}")
        return None
    try:
        return CLI_CONNECT.call(
            lambda: CassandraBackend(cassandra, amqp), cassandra_transient, permanent=cassandra_permanent
        )
    except PermanentError as e:
        print_err(f"error: cannot connect to Cassandra: {e}")
    except Exception as e:
        print_err(f"error: cannot connect to Cassandra: {type(e).__name__}: {e}")
    return None


@dataclass(frozen=True)
class RunScript:
    """The script of `--script`/`--params` as a run records it: loaded, with its URLs made absolute."""

    script: Script
    script_url: str
    params_url: str


def load_run_script(args: argparse.Namespace) -> RunScript | None:
    """Check `--keyspace` and load the script; None (the error printed) when either is bad."""
    try:
        validate_keyspace_name(args.keyspace)
    except ValueError as e:
        print_err(f"error: {e}")
        return None
    script_url, params_url = absolute_url(args.script), absolute_url(args.params)
    try:
        return RunScript(load_script(script_url, params_url or None), script_url, params_url)
    except ScriptLoadError as e:
        print_err(f"error: cannot load script: {e}")
        return None


def _start(args: argparse.Namespace) -> int:
    loaded = load_run_script(args)
    if loaded is None:
        return EXIT_USAGE
    start_nodes = [n.strip() for n in args.start_nodes.split(",") if n.strip()]
    backend = connect_backend()
    if backend is None:
        return EXIT_FAILED
    try:
        try:
            run_id = start_run(
                backend,
                loaded.script,
                ks=args.keyspace,
                script_url=loaded.script_url,
                script_params_url=loaded.params_url,
                start_nodes=start_nodes,
                description=args.description,
                driver=Driver.CLI,
            )
        except ValueError as e:
            print_err(f"error: {e}")
            return EXIT_USAGE
        except Exception as e:
            if not backend.is_transient(e):
                raise
            print_err(f"error: Cassandra or RabbitMQ unavailable, the run was not started: {type(e).__name__}: {e}")
            return EXIT_FAILED
        print(run_id, flush=True)
        if not args.wait:
            return 0
        report, timed_out = wait_for_run(backend.store(args.keyspace), run_id, args.timeout)
    finally:
        backend.close()
    if timed_out:
        print_err(f"timeout after {args.timeout:g} s; still pending: {', '.join(n.node for n in report.pending_nodes)}")
        print_err("\n".join(describe(report)))
        return EXIT_TIMEOUT
    if report.succeeded:
        print("\n".join(describe(report)), flush=True)
        return 0
    failed = report.failed_nodes
    head = f"run {run_id} {report.status.name.lower()}"
    if failed:
        head += f"; failed node(s): {', '.join(n.node for n in failed)}"
    print_err(head)
    print_err("\n".join(describe(report)))
    return EXIT_FAILED


def _stop(args: argparse.Namespace) -> int:
    backend = CassandraBackend(cassandra_settings(), amqp_settings())
    try:
        if not keyspace_exists(backend.session, args.keyspace):
            print_err(f"error: keyspace {args.keyspace} does not exist")
            return EXIT_USAGE
        if backend.store(args.keyspace).read_run_properties(args.run_id) is None:
            print_err(f"error: run {args.run_id} does not exist in keyspace {args.keyspace}")
            return EXIT_USAGE
        stop_run(backend, ks=args.keyspace, run_id=args.run_id, comment=args.comment)
    finally:
        backend.close()
    print(f"run {args.run_id} stopped", flush=True)
    return 0


def _status(args: argparse.Namespace) -> int:
    session = connect(cassandra_settings())
    try:
        if not keyspace_exists(session, args.keyspace):
            print_err(f"error: keyspace {args.keyspace} does not exist")
            return EXIT_USAGE
        wf = WorkflowStore(session, args.keyspace)
        runs = [args.run_id] if args.run_id is not None else [p.run_id for p in wf.read_all_run_properties()]
        for run_id in runs:
            report = run_report(wf, run_id)
            if report.props is None:
                print_err(f"error: run {run_id} does not exist in keyspace {args.keyspace}")
                return EXIT_USAGE
            lines = describe(report)
            lines[0] += f"  start nodes: {','.join(report.props.start_nodes)}  ({report.props.run_description})"
            print("\n".join(lines), flush=True)
    finally:
        close(session)
    return 0


def _history(args: argparse.Namespace) -> int:
    if args.node is not None and len(args.run_ids or ()) != 1:
        print_err("error: --node needs exactly one --run-id")
        return EXIT_USAGE
    session = connect(cassandra_settings())
    try:
        if not keyspace_exists(session, args.keyspace):
            print_err(f"error: keyspace {args.keyspace} does not exist")
            return EXIT_USAGE
        wf = WorkflowStore(session, args.keyspace)
        if not args.run_ids:
            rows, columns = run_rows(wf.read_run_history()), RUN_COLUMNS
        else:
            missing = [r for r in args.run_ids if wf.read_run_properties(r) is None]
            if missing:
                print_err(f"error: run {missing[0]} does not exist in keyspace {args.keyspace}")
                return EXIT_USAGE
            if args.node is None:
                events = [e for r in dict.fromkeys(args.run_ids) for e in wf.read_node_history(r)]
                rows, columns = node_rows(distinct_node_events(events)), NODE_COLUMNS
            else:
                rows, columns = batch_rows(wf.read_batch_history(args.run_ids[0], args.node)), BATCH_COLUMNS
    finally:
        close(session)
    sys.stdout.write(render(rows, columns, args.format))
    return 0


def _drop(args: argparse.Namespace) -> int:
    session = connect(cassandra_settings())
    try:
        drop_keyspace(session, args.keyspace)
    except ValueError as e:
        print_err(f"error: {e}")
        return EXIT_USAGE
    finally:
        close(session)
    print(f"keyspace {args.keyspace} dropped", flush=True)
    return 0
