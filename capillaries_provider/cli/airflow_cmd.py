"""`capillaries airflow up|down|status|trigger`: Airflow 3.3 standalone on SQLite with this project's DAG folder."""

from __future__ import annotations

import argparse
import json
import sys

from capillaries_provider.services import airflow_local, workers_local
from capillaries_provider.services.process import ServiceError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("airflow", help="run Airflow standalone locally for this project")
    actions = parser.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="start local workers and Airflow standalone; wait until all are healthy")
    up.add_argument("--foreground", action="store_true", help="run Airflow in this terminal instead of the background")
    up.set_defaults(func=_up)
    actions.add_parser("down", help="stop the Airflow and workers that `up` started").set_defaults(func=_down)
    actions.add_parser("status", help="show whether Airflow and the workers are up").set_defaults(func=_status)
    trigger = actions.add_parser("trigger", help="trigger a DAG run through the REST API")
    trigger.add_argument("dag_id")
    trigger.add_argument("--conf", default="{}", help="run conf as JSON (e.g. start_nodes, keyspace)")
    trigger.add_argument("--wait", action="store_true", help="wait for the run to finish; exit 1 unless success")
    trigger.add_argument("--timeout", type=float, default=900.0, help="seconds to wait (default 900)")
    trigger.set_defaults(func=_trigger)


def _up(args: argparse.Namespace) -> int:
    try:
        st = airflow_local.up(foreground=args.foreground)
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(workers_local.status().line())
    print(st.line())
    print(f"DAGs folder: {airflow_local.dags_folder().resolve()}")
    print(f"log in at {st.address} as admin / {airflow_local.admin_password()}")
    return 0


def _down(args: argparse.Namespace) -> int:
    print(airflow_local.down())
    return 0


def _status(args: argparse.Namespace) -> int:
    statuses = [airflow_local.status(), workers_local.status()]
    for st in statuses:
        print(st.line())
    return 0 if all(st.running for st in statuses) else 1


def _trigger(args: argparse.Namespace) -> int:
    try:
        outcome = airflow_local.trigger_dag(args.dag_id, json.loads(args.conf), wait=args.wait, timeout=args.timeout)
    except (ServiceError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.dag_id} {outcome}")
    return 0 if not args.wait or outcome.endswith(": success") else 1
