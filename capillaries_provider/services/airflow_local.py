"""Airflow 3.3 for this project as it runs in production, on one machine: api-server, scheduler, dag-processor and
triggerer as separate processes sharing a PostgreSQL metadata database, tasks run by the LocalExecutor; examples
off, low parallelism, our `dags/` folder, plus the local `capillaries worker` processes its DAGs need and Airflow
connections to the local services.

The components are started by name from the interpreter's `bin` folder (the venv), which is also put first on
PATH for the processes they spawn.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from capillaries_provider.config import amqp_settings, cassandra_settings
from capillaries_provider.services import postgres, workers_local
from capillaries_provider.services.airflow_api import RETRY_BUDGET_S, Client
from capillaries_provider.services.process import (
    ServiceError,
    log_tail,
    port_open,
    read_pid,
    state_dir,
    stop_pid,
    wait_until,
)
from capillaries_provider.services.status import ServiceStatus

API_PORT = 8080
BASE_URL = f"http://127.0.0.1:{API_PORT}"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
START_TIMEOUT_S = 300.0
MIGRATE_TIMEOUT_S = 600.0


def airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME", state_dir() / "airflow"))


def dags_folder() -> Path:
    configured = os.environ.get("CAPILLARIES_DAGS_FOLDER")
    return Path(configured) if configured else Path.cwd() / "dags"


def connection_env(queue: str | None = None, *, override: bool = False) -> dict[str, str]:
    """Airflow connections (env secrets backend) for the local services, unless the user defines their own.

    `cassandra_default` and `capillaries_amqp_default` are the connection ids the provider uses by default.
    `queue` is the work queue (default: the configured one); `override` replaces connections already set in the
    environment (tests and benchmarks point Airflow at a queue of their own).
    """
    cassandra, amqp = cassandra_settings(), amqp_settings()
    url = urlsplit(amqp.url)
    conns = {
        "AIRFLOW_CONN_CASSANDRA_DEFAULT": {
            "conn_type": "cassandra",
            "host": ",".join(cassandra.hosts),
            "port": cassandra.port,
            "login": cassandra.username,
            "password": cassandra.password,
            # The workers' keyspace settings, so keyspaces Airflow's start_run creates match theirs.
            "extra": {
                "replication": cassandra.replication,
                "consistency": cassandra.consistency,
                "local_dc": cassandra.local_dc,
                "writer_concurrency": cassandra.writer_concurrency,
            },
        },
        "AIRFLOW_CONN_CAPILLARIES_AMQP_DEFAULT": {
            "conn_type": "capillaries_amqp",
            "host": url.hostname,
            "port": url.port or 5672,
            "login": unquote(url.username or "guest"),
            "password": unquote(url.password or "guest"),
            "schema": unquote(url.path.lstrip("/")) or "/",
            "extra": {"queue": queue or amqp.queue, "retry_delay_ms": amqp.retry_delay_ms},
        },
    }
    return {name: json.dumps(conn) for name, conn in conns.items() if override or name not in os.environ}


def airflow_env() -> dict[str, str]:
    """Environment for every Airflow process of the local stack (the database must be up: its URL has a password)."""
    return {
        **os.environ,
        **connection_env(),
        "PATH": f"{_bin()}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(airflow_home()),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder().resolve()),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "16",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__MIGHT_CONTAIN_DAG_CALLABLE": "capillaries_provider.discovery.might_contain_dag",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres.db_url(),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(API_PORT),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{BASE_URL}/execution/",
    }


def _bin() -> Path:
    return Path(sys.executable).parent


def _pid_file(component: str) -> Path:
    return airflow_home() / f"{component}.pid"


def log_file(component: str) -> Path:
    return airflow_home() / f"{component}.log"


def _healthy() -> bool:
    try:
        with urllib.request.urlopen(f"{BASE_URL}/api/v2/monitor/health", timeout=3) as resp:
            body = json.load(resp)
    except Exception:
        return False
    return all(
        isinstance(part, dict) and part.get("status") == "healthy"
        for name, part in body.items()
        if name in ("metadatabase", "scheduler", "triggerer", "dag_processor")
    )


def admin_password() -> str | None:
    generated = airflow_home() / "simple_auth_manager_passwords.json.generated"
    try:
        return str(json.loads(generated.read_text()).get("admin"))
    except (OSError, ValueError):
        return None


def status() -> ServiceStatus:
    pids = {component: read_pid(_pid_file(component)) for component in COMPONENTS}
    started = ", ".join(f"{component} {pid}" for component, pid in pids.items() if pid)
    return ServiceStatus(
        "Airflow",
        running=_healthy(),
        address=BASE_URL,
        version=_version(),
        origin=f"started by capillaries: {started}" if started else "",
        detail="health endpoint not healthy",
    )


def _version() -> str | None:
    try:
        from importlib.metadata import version

        return version("apache-airflow")
    except Exception:
        return None


def up() -> ServiceStatus:
    """Start the database, the workers and the Airflow components not yet running; wait until all are healthy."""
    home = airflow_home()
    home.mkdir(parents=True, exist_ok=True)
    postgres.up()
    workers_local.up()
    env = airflow_env()
    missing = [component for component in COMPONENTS if read_pid(_pid_file(component)) is None]
    if "api-server" in missing and port_open("127.0.0.1", API_PORT):
        raise ServiceError(f"port {API_PORT} is taken by a process capillaries did not start")
    if missing:
        _migrate(env)
    for component in missing:
        with log_file(component).open("ab") as out:
            proc = subprocess.Popen(
                [str(_bin() / "airflow"), component],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        _pid_file(component).write_text(str(proc.pid))
    pids = {component: read_pid(_pid_file(component)) for component in COMPONENTS}
    wait_until(
        _healthy,
        timeout=START_TIMEOUT_S,
        alive=lambda: all(read_pid(_pid_file(c)) == pid for c, pid in pids.items()),
        what="Airflow",
        logs=[log_file(component) for component in COMPONENTS],
        interval=2.0,
    )
    return status()


def _migrate(env: dict[str, str]) -> None:
    """`airflow db migrate`: creates or upgrades the schema (and airflow.cfg with its secrets) before any component
    starts, so the four share one JWT secret and never race on the schema."""
    log = log_file("db-migrate")
    with log.open("ab") as out:
        done = subprocess.run(
            [str(_bin() / "airflow"), "db", "migrate"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=MIGRATE_TIMEOUT_S,
            check=False,
        )
    if done.returncode != 0:
        raise ServiceError(f"`airflow db migrate` failed; last lines of {log}:\n{log_tail(log)}")


def down() -> str:
    """Stop our Airflow components and workers (the database stays, like Cassandra: `services down` stops it)."""
    stopped = []
    for component in reversed(COMPONENTS):
        pid = read_pid(_pid_file(component))
        if pid is not None:
            stop_pid(pid)
            stopped.append(f"{component} {pid}")
        _pid_file(component).unlink(missing_ok=True)
    workers = workers_local.down()
    if not stopped:
        return f"Airflow: not started by capillaries, nothing to stop; {workers}"
    return f"Airflow stopped ({', '.join(stopped)}); {workers}"


def client(budget_s: float = RETRY_BUDGET_S, notify: Callable[[str], None] = lambda _line: None) -> Client:
    """A REST client logged in as the local admin (password generated by the api-server on first start)."""
    password = admin_password()
    if password is None:
        raise ServiceError("no admin password found: is the local Airflow started (`capillaries airflow up`)?")
    return Client(BASE_URL, "admin", password, log_file=log_file("api-server"), budget_s=budget_s, notify=notify)
