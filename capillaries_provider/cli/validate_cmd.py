"""`capillaries validate SCRIPT [--params PARAMS] [--keyspace KS] [--format text|dot|mermaid]`.

Loads and validates a script exactly as a worker would, without touching Cassandra or RabbitMQ: prints a summary
(or the node graph) and exits 0, or prints every problem found and exits 1.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from capillaries_provider.script.errors import ScriptLoadError, ScriptValidationError
from capillaries_provider.script.graph import edges
from capillaries_provider.script.loader import load_script
from capillaries_provider.script.model import Script
from capillaries_provider.script.names import keyspace_name_problem
from capillaries_provider.script.render import to_dot, to_mermaid


def register(subparsers: Any) -> None:
    """Add the `validate` sub-command."""
    p = subparsers.add_parser("validate", help="load and validate a script (no database or queue needed)")
    p.add_argument("script", help="script file (.json or .yaml)")
    p.add_argument("--params", default=None, help="script parameters file (.json or .yaml)")
    p.add_argument("--keyspace", default=None, help="also check a keyspace name for the runs")
    p.add_argument("--format", choices=("text", "dot", "mermaid"), default="text", help="output format")
    p.set_defaults(func=run)


def summary(script: Script) -> str:
    """One-paragraph description of a valid script."""
    tables = [n.table_creator.name for n in script.nodes.values() if n.table_creator]
    indexes = [i for n in script.nodes.values() if n.table_creator for i in n.table_creator.indexes]
    files = [n.name for n in script.nodes.values() if n.file_creator]
    return (
        f"OK {script.file}: {len(script.nodes)} nodes, {len(tables)} tables, {len(indexes)} indexes, "
        f"{len(files)} file writers, {len(edges(script))} edges, "
        f"{len(script.dependency_policies)} dependency policies\n"
    )


def run(args: argparse.Namespace) -> int:
    problem = args.keyspace is not None and keyspace_name_problem(args.keyspace)
    if problem:
        sys.stderr.write(f"{problem}\n")
        return 1
    try:
        script = load_script(args.script, args.params or None)
    except ScriptValidationError as e:
        sys.stderr.write(str(e) + "\n")
        return 1
    except ScriptLoadError as e:
        sys.stderr.write(f"cannot load script: {e}\n")
        return 1
    if args.format == "dot":
        sys.stdout.write(to_dot(script))
    elif args.format == "mermaid":
        sys.stdout.write(to_mermaid(script))
    else:
        sys.stdout.write(summary(script))
    return 0
