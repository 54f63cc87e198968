"""`capillaries table-cql`: the CQL a run start would execute (Go's toolbelt `get_table_cql`, spec 8.2).

For operators who create tables by hand (Amazon Keyspaces, locked-down clusters) or want to review them: the
workflow tables, the run counter row, then the data and index tables of every node the start nodes affect. The
statements come from the same builders the run starter uses, so what is printed is what a run creates.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from capillaries_provider.script.errors import ScriptLoadError
from capillaries_provider.script.graph import affected_nodes
from capillaries_provider.script.loader import load_script
from capillaries_provider.script.model import Script
from capillaries_provider.script.names import validate_keyspace_name
from capillaries_provider.store.tables import run_tables_ddl
from capillaries_provider.store.workflow import RUN_COUNTER_INIT, WORKFLOW_DDL
from capillaries_provider.worker.backend import OWN_DDL, table_spec


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("table-cql", help="print the CQL of the workflow, data and index tables of a run")
    p.add_argument("--script", required=True, help="script file or URL (.json or .yaml)")
    p.add_argument("--params", default="", help="script parameters file or URL")
    p.add_argument("--keyspace", required=True)
    p.add_argument("--run-id", type=int, default=1, help="run id of the table names (default 1)")
    p.add_argument("--start-nodes", required=True, help="comma-separated node names")
    p.set_defaults(func=run)


def tables_cql(script: Script, ks: str, run_id: int, start_nodes: Sequence[str]) -> str:
    """Go's layout: `-- Workflow`, the wf tables and counter row, then `-- <node>` and the node's tables."""
    validate_keyspace_name(ks)
    if not start_nodes:
        raise ValueError("at least one start node is required")
    unknown = [n for n in start_nodes if n not in script.nodes]
    if unknown:
        raise ValueError(f"start node(s) not in script {script.file}: {', '.join(unknown)}")
    if run_id < 1:
        raise ValueError(f"run id must be 1 or more, got {run_id}")
    lines = ["-- Workflow"]
    lines += [ddl.format(ks=ks) + ";" for ddl in WORKFLOW_DDL]
    lines.append(RUN_COUNTER_INIT.format(ks=ks) + ";")
    lines.append("-- capillaries-provider (run driver, enqueue claims)")
    lines += [ddl.format(ks=ks) + ";" for ddl in OWN_DDL]
    for name in affected_nodes(script, start_nodes):
        creator = script.nodes[name].table_creator
        if creator is not None:
            lines.append(f"-- {name}")
            lines += [ddl + ";" for ddl in run_tables_ddl(ks, run_id, [table_spec(creator)])]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    try:
        script = load_script(args.script, args.params or None)
    except ScriptLoadError as e:
        sys.stderr.write(f"error: cannot load script: {e}\n")
        return 2
    start_nodes = [n.strip() for n in args.start_nodes.split(",") if n.strip()]
    try:
        sys.stdout.write(tables_cql(script, args.keyspace, args.run_id, start_nodes))
    except ValueError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    return 0
