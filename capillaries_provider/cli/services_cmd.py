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

_SERVICES: dict[str, ModuleType] = {"cassandra": cassandra, "rabbitmq": rabbitmq, "postgres": postgres}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("services", help="start, stop or inspect the local Cassandra, RabbitMQ and PostgreSQL")
    actions = parser.add_subparsers(dest="action", required=True)
    for name, func, text in (
        ("up", _up, "start the services (reuses running ones); returns when all answer"),
        ("down", _down, "stop the services that `up` started"),
        ("status", _status, "show each service with version and address; exit 1 if one is down"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("--only", choices=sorted(_SERVICES), help="act on one service")
        action.set_defaults(func=func)


def _selected(args: argparse.Namespace) -> list[ModuleType]:
    return [_SERVICES[args.only]] if args.only else list(_SERVICES.values())


def _each(args: argparse.Namespace, act: Callable[[ModuleType], str]) -> int:
    code = 0
    for service in _selected(args):
        try:
            print(act(service), flush=True)
        except ServiceError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            code = 1
    return code


def _up(args: argparse.Namespace) -> int:
    def start(service: ModuleType) -> str:
        began = time.monotonic()
        line: str = service.up().line()
        return f"{line} [{time.monotonic() - began:.1f} s]"

    return _each(args, start)


def _down(args: argparse.Namespace) -> int:
    return _each(args, lambda service: str(service.down()))


def _status(args: argparse.Namespace) -> int:
    statuses = [service.status() for service in _selected(args)]
    for st in statuses:
        print(st.line())
    return 0 if all(st.running for st in statuses) else 1
