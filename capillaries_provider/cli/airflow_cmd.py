"""`capillaries airflow up|down|status|trigger`: the local Airflow 3.3 (four components on PostgreSQL, LocalExecutor)
with this project's DAG folder."""

from __future__ import annotations

import argparse
import json
import sys

from capillaries_provider.services import airflow_local, postgres, workers_local
from capillaries_provider.services.airflow_api import RETRY_BUDGET_S
from capillaries_provider.services.process import ServiceError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("airflow", help="run Airflow locally for this project")
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser(
        "up", help="start PostgreSQL, local workers and the four Airflow components; wait until all are healthy"
    ).set_defaults(func=_up)
    actions.add_parser("down", help="stop the Airflow and workers that `up` started").set_defaults(func=_down)
    actions.add_parser("status", help="show whether Airflow and the workers are up").set_defaults(func=_status)
    trigger = actions.add_parser("trigger", help="trigger a DAG run through the REST API")
    trigger.add_argument("dag_id")
    trigger.add_argument("--conf", default="{}", help="run conf as JSON (e.g. start_nodes, keyspace)")
    trigger.add_argument("--wait", action="store_true", help="wait for the run to finish; exit 1 unless success")
    trigger.add_argument("--timeout", type=float, default=900.0, help="seconds to wait (default 900)")
    trigger.add_argument(
        "--retry-budget",
        type=float,
        default=RETRY_BUDGET_S,
        help="seconds to retry an API call on 5xx, refused connections or a DAG not yet parsed "
        f"(default {RETRY_BUDGET_S:.0f})",
    )
    trigger.set_defaults(func=_trigger)


def _up(args: argparse.Namespace) -> int:
    try:
        st = airflow_local.up()
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
    statuses = [airflow_local.status(), *postgres.status(), workers_local.status()]
    for st in statuses:
        print(st.line())
    return 0 if all(st.running for st in statuses) else 1


def _trigger(args: argparse.Namespace) -> int:
    try:
        conf = json.loads(args.conf)
        api = airflow_local.client(args.retry_budget, notify=lambda line: print(line, file=sys.stderr, flush=True))
        run_id = api.trigger(args.dag_id, conf)
        if not args.wait:
            print(f"{args.dag_id} {run_id}: queued")
            return 0
        state = api.wait(args.dag_id, run_id, timeout=args.timeout)
    except (ServiceError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if state == "success":
        print(f"{args.dag_id} {run_id}: success")
        return 0
    failed = [task for task, ti in api.task_instances(args.dag_id, run_id).items() if ti["state"] == "failed"]
    print(f"{args.dag_id} {run_id}: failed (failed tasks: {', '.join(failed) or 'none'}); task logs in the UI")
    return 1
