"""`capillaries services up|down|status`: the local Cassandra and RabbitMQ the project and its tests run on, and the
PostgreSQL that holds the local Airflow's metadata."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from types import ModuleType

from capillaries_provider.services import cassandra, postgres, rabbitmq
from capillaries_provider.services.process import ServiceError
from capillaries_provider.services.status import ServiceStatus

_SERVICES: dict[str, ModuleType] = {"cassandra": cassandra, "rabbitmq": rabbitmq, "postgres": postgres}
# Services that `up --<name>-nodes N` runs as a local cluster; the others take no node count.
_CLUSTERED = ("cassandra", "rabbitmq")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("services", help="start, stop or inspect the local Cassandra, RabbitMQ and PostgreSQL")
    actions = parser.add_subparsers(dest="action", required=True)
    for name, func, text in (
        ("up", _up, "start the services (reuses running ones); returns when all answer"),
        ("down", _down, "stop the services that `up` started, every node of a cluster"),
        (
            "status",
            _status,
            "show each service (each node of a cluster) with version and address; exit 1 if one is down",
        ),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("--only", choices=sorted(_SERVICES), help="act on one service")
        action.set_defaults(func=func)
        if name == "up":
            for service in _CLUSTERED:
                action.add_argument(
                    f"--{service}-nodes",
                    type=_node_count,
                    metavar="N",
                    help=f"run {service} as a local cluster of N nodes (default: 1, or as many as its state holds)",
                )


def _node_count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a node count is a positive integer, got {text!r}")
    return int(text)


def _selected(args: argparse.Namespace) -> list[str]:
    return [args.only] if args.only else list(_SERVICES)


def _each(args: argparse.Namespace, act: Callable[[str, ModuleType], str]) -> int:
    code = 0
    for name in _selected(args):
        try:
            print(act(name, _SERVICES[name]), flush=True)
        except ServiceError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            code = 1
    return code


def _up(args: argparse.Namespace) -> int:
    def start(name: str, service: ModuleType) -> str:
        began = time.monotonic()
        nodes = {"nodes": getattr(args, f"{name}_nodes")} if name in _CLUSTERED else {}
        statuses: list[ServiceStatus] = service.up(**nodes)
        return "\n".join(f"{st.line()} [{time.monotonic() - began:.1f} s]" for st in statuses)

    return _each(args, start)


def _down(args: argparse.Namespace) -> int:
    return _each(args, lambda _name, service: str(service.down()))


def _status(args: argparse.Namespace) -> int:
    statuses: list[ServiceStatus] = [st for name in _selected(args) for st in _SERVICES[name].status()]
    for st in statuses:
        print(st.line())
    return 0 if all(st.running for st in statuses) else 1
