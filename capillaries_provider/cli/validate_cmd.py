"""`capillaries validate SCRIPT [--params PARAMS] [--keyspace KS] [--check-urls] [--format text|dot|mermaid|svg]`.

Loads and validates a script exactly as a worker would, without touching Cassandra or RabbitMQ: prints a summary
(or the node graph) and exits 0, or prints every problem found and exits 1. `--check-urls` also checks that every
file the run will read (reader `urls`, `python_code_urls`, `tag_criteria_url`; local or remote) exists.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from capillaries_provider.script.errors import ScriptLoadError, ScriptValidationError
from capillaries_provider.script.graph import edges
from capillaries_provider.script.loader import load_script
from capillaries_provider.script.model import PyCalcDef, Script, TagAndDenormalizeDef
from capillaries_provider.script.names import keyspace_name_problem
from capillaries_provider.script.render import to_dot, to_mermaid
from capillaries_provider.script.svg import to_svg
from capillaries_provider.storage.files import file_exists
from capillaries_provider.storage.urls import redact


def register(subparsers: Any) -> None:
    """Add the `validate` sub-command."""
    p = subparsers.add_parser("validate", help="load and validate a script (no database or queue needed)")
    p.add_argument("script", help="script file (.json or .yaml)")
    p.add_argument("--params", default=None, help="script parameters file (.json or .yaml)")
    p.add_argument("--keyspace", default=None, help="also check a keyspace name for the runs")
    p.add_argument("--check-urls", action="store_true", help="also check that every input file exists")
    p.add_argument("--format", choices=("text", "dot", "mermaid", "svg"), default="text", help="output format")
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


def input_urls(script: Script) -> list[tuple[str, str, str]]:
    """(node, key, url) of every file the run will read besides the script and params."""
    found: list[tuple[str, str, str]] = []
    for node in script.nodes.values():
        if node.file_reader is not None:
            found += [(node.name, f"r.urls[{i}]", u) for i, u in enumerate(node.file_reader.urls)]
        proc = node.custom_processor
        if isinstance(proc, PyCalcDef):
            found += [(node.name, f"p.python_code_urls[{i}]", u) for i, u in enumerate(proc.python_code_urls)]
        elif isinstance(proc, TagAndDenormalizeDef) and proc.tag_criteria_url:
            found.append((node.name, "p.tag_criteria_url", proc.tag_criteria_url))
    return found


def missing_inputs(script: Script) -> list[str]:
    """One line per input that does not exist or cannot be checked, naming the file, node and key."""
    problems = []
    for node, key, url in input_urls(script):
        try:
            ok = file_exists(url)
            cause = "no such file"
        except OSError as e:
            ok, cause = False, str(e)
        if not ok:
            problems.append(f"{script.file}: node {node}: {key}: {redact(url)}: {cause}")
    return problems


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
    if args.check_urls:
        missing = missing_inputs(script)
        if missing:
            sys.stderr.write("".join(f"{m}\n" for m in missing))
            return 1
    if args.format == "dot":
        sys.stdout.write(to_dot(script))
    elif args.format == "mermaid":
        sys.stdout.write(to_mermaid(script))
    elif args.format == "svg":
        sys.stdout.write(to_svg(script))
    else:
        sys.stdout.write(summary(script))
    return 0
