"""`capillaries airflow up|down|status`: Airflow 3.3 standalone on SQLite with this project's DAG folder."""

from __future__ import annotations

import argparse
import sys

from capillaries_provider.services import airflow_local
from capillaries_provider.services.process import ServiceError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("airflow", help="run Airflow standalone locally for this project")
    actions = parser.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="start Airflow standalone and wait until all components are healthy")
    up.add_argument("--foreground", action="store_true", help="run in this terminal instead of in the background")
    up.set_defaults(func=_up)
    actions.add_parser("down", help="stop the Airflow that `up` started").set_defaults(func=_down)
    actions.add_parser("status", help="show whether Airflow is healthy").set_defaults(func=_status)


def _up(args: argparse.Namespace) -> int:
    try:
        st = airflow_local.up(foreground=args.foreground)
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(st.line())
    print(f"DAGs folder: {airflow_local.dags_folder().resolve()}")
    print(f"log in at {st.address} as admin / {airflow_local.admin_password()}")
    return 0


def _down(args: argparse.Namespace) -> int:
    print(airflow_local.down())
    return 0


def _status(args: argparse.Namespace) -> int:
    st = airflow_local.status()
    print(st.line())
    return 0 if st.running else 1
