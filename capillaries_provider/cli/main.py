"""`capillaries` command line: one sub-command module per concern, each exposing `register(subparsers)`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module defines `register(subparsers) -> None` and sets `func` on its parsers (func(args) -> exit code).
_COMMAND_MODULES = (
    "capillaries_provider.cli.services_cmd",
    "capillaries_provider.cli.airflow_cmd",
    "capillaries_provider.cli.validate_cmd",
    "capillaries_provider.cli.table_cql_cmd",
    "capillaries_provider.cli.proto_cmd",
    "capillaries_provider.cli.dag_cmd",
    "capillaries_provider.cli.run_cmd",
    "capillaries_provider.cli.exec_node_cmd",
    "capillaries_provider.cli.worker_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="capillaries", description="Capillaries batch processing, Python edition.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
