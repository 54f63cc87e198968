"""`capillaries dag new SCRIPT [--params P] [--keyspace KS] [--schedule S] [--dag-id ID] > dags/NAME.py`.

Prints a DAG file for a script, after the checks of `capillaries validate`: paths are absolute (the dag-processor
and the workers do not run in the caller's directory), and the docstring names "Airflow DAG" so that Airflow's
DAG discovery safe mode parses the file even without `capillaries_provider.discovery` configured.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import re
import sys
from pathlib import Path
from typing import Any

from capillaries_provider.cli.main import main
from capillaries_provider.cli.run_cmd import absolute_url

TEMPLATE = '''"""Airflow DAG written by `capillaries dag new`: one task per node of a Capillaries script.

The words "Airflow DAG" above make Airflow's DAG discovery (safe mode, on by default) parse this file.
"""

from datetime import UTC, datetime

from capillaries_provider import CapillariesDag

dag = CapillariesDag(
    dag_id={dag_id},
    script_path={script_path},{params_line}
    keyspace={keyspace},
    schedule={schedule},
    start_date=datetime({start_date}, tzinfo=UTC),
    catchup=False,
)
'''


def register(subparsers: Any) -> None:
    """Add the `dag new` sub-command."""
    dag = subparsers.add_parser("dag", help="Airflow DAG files")
    actions = dag.add_subparsers(dest="action", required=True)
    new = actions.add_parser("new", help="validate a script and print a DAG file for it")
    new.add_argument("script", help="script file or URL (.json or .yaml)")
    new.add_argument("--params", default=None, help="script parameters file or URL")
    new.add_argument("--keyspace", default=None, help="default keyspace of the runs (default: the name)")
    new.add_argument("--schedule", default=None, help="Airflow schedule, e.g. @daily (default: none, trigger only)")
    new.add_argument("--dag-id", default=None, help="DAG id (default: the name)")
    new.set_defaults(func=new_dag)


def default_name(script: str) -> str:
    """The script file's name, or its folder's when the file is a generic `script.*` (as in the examples)."""
    path = Path(script)
    name = path.parent.name if path.stem == "script" else path.stem
    return re.sub(r"[^A-Za-z0-9_]", "_", name)[:48]


def render(
    *, dag_id: str, script_path: str, params_path: str | None, keyspace: str, schedule: str | None, today: datetime.date
) -> str:
    """The DAG file text; strings are JSON literals, which are valid Python with the double quotes ruff wants."""
    params_line = f"\n    params_path={json.dumps(params_path)}," if params_path else ""
    return TEMPLATE.format(
        dag_id=json.dumps(dag_id),
        script_path=json.dumps(script_path),
        params_line=params_line,
        keyspace=json.dumps(keyspace),
        schedule=json.dumps(schedule) if schedule else "None",
        start_date=f"{today.year}, {today.month}, {today.day}",
    )


def new_dag(args: argparse.Namespace) -> int:
    """Run `capillaries validate` itself (same checks, same messages), then print the file; exit code as validate's."""
    script = absolute_url(args.script)
    params = absolute_url(args.params) if args.params else None
    name = default_name(script)
    keyspace = args.keyspace or name
    validate = ["validate", script, "--keyspace", keyspace, *(["--params", params] if params else [])]
    # stdout is the DAG file: the validation summary goes to stderr with the errors.
    with contextlib.redirect_stdout(sys.stderr):
        code = main(validate)
    if code != 0:
        return code
    sys.stdout.write(
        render(
            dag_id=args.dag_id or name,
            script_path=script,
            params_path=params,
            keyspace=keyspace,
            schedule=args.schedule,
            today=datetime.datetime.now(datetime.UTC).date(),
        )
    )
    return 0
