"""Airflow 3.3 standalone on SQLite for this project: examples off, low parallelism, our `dags/` folder, plus
the local `capillaries worker` processes its DAGs need and Airflow connections to the local services.

`airflow standalone` spawns its components as `airflow ...` by name, so the interpreter's `bin` folder (the venv)
is put first on PATH.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlsplit

from capillaries_provider.config import amqp_settings, cassandra_settings
from capillaries_provider.services import workers_local
from capillaries_provider.services.process import (
    ServiceError,
    port_open,
    read_pid,
    state_dir,
    stop_pid,
    wait_until,
)
from capillaries_provider.services.status import ServiceStatus

API_PORT = 8080
START_TIMEOUT_S = 300.0


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
    """Environment for every Airflow process of the local stack."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        **os.environ,
        **connection_env(),
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(airflow_home()),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder().resolve()),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "16",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__API__PORT": str(API_PORT),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
    }


def _healthy() -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{API_PORT}/api/v2/monitor/health", timeout=3) as resp:
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
    pid = read_pid(airflow_home() / "standalone.pid")
    return ServiceStatus(
        "Airflow",
        running=_healthy(),
        address=f"http://127.0.0.1:{API_PORT}",
        version=_version(),
        origin=f"started by capillaries, pid {pid}" if pid else "",
        detail="health endpoint not healthy",
    )


def _version() -> str | None:
    try:
        from importlib.metadata import version

        return version("apache-airflow")
    except Exception:
        return None


def up(*, foreground: bool = False) -> ServiceStatus:
    """Start standalone in the background (or in the foreground) and wait until every component is healthy."""
    home = airflow_home()
    home.mkdir(parents=True, exist_ok=True)
    pid_file = home / "standalone.pid"
    workers_local.up()
    env = airflow_env()
    cmd = [str(Path(sys.executable).parent / "airflow"), "standalone"]
    if foreground:
        os.execve(cmd[0], cmd, env)
    pid = read_pid(pid_file)
    if pid is None:
        if port_open("127.0.0.1", API_PORT):
            raise ServiceError(f"port {API_PORT} is taken by a process capillaries did not start")
        with (home / "standalone.log").open("ab") as out:
            proc = subprocess.Popen(
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        pid_file.write_text(str(proc.pid))
        pid = proc.pid
    started = pid
    wait_until(
        _healthy,
        timeout=START_TIMEOUT_S,
        alive=lambda: read_pid(pid_file) == started,
        what="Airflow standalone",
        logs=(home / "standalone.log",),
        interval=3.0,
    )
    return status()


def down() -> str:
    workers = workers_local.down()
    pid_file = airflow_home() / "standalone.pid"
    pid = read_pid(pid_file)
    if pid is None:
        return f"Airflow: not started by capillaries, nothing to stop; {workers}"
    stop_pid(pid)
    pid_file.unlink(missing_ok=True)
    return f"Airflow stopped (pid {pid}); {workers}"


def _api(method: str, path: str, token: str | None = None, body: object | None = None) -> dict[str, object]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{API_PORT}{path}", data=data, headers=headers, method=method)
    with urllib.request.urlopen(req, timeout=30) as resp:
        result: dict[str, object] = json.load(resp)
        return result


def _token() -> str:
    password = admin_password()
    if password is None:
        raise ServiceError("no admin password found: is the local Airflow started (`capillaries airflow up`)?")
    return str(_api("POST", "/auth/token", body={"username": "admin", "password": password})["access_token"])


def trigger_dag(dag_id: str, conf: dict[str, object], *, wait: bool, timeout: float) -> str:
    """Trigger a DAG run through the REST API (unpausing the DAG); with `wait`, return its final state.

    A DAG file added while Airflow runs is parsed within the dag-processor's refresh interval, so the DAG is
    awaited first.
    """
    token = _token()
    deadline = time.monotonic() + timeout
    while True:
        try:
            _api("PATCH", f"/api/v2/dags/{dag_id}", token, {"is_paused": False})
            break
        except urllib.error.HTTPError as exc:
            if exc.code != 404 or time.monotonic() > deadline:
                raise ServiceError(f"DAG {dag_id!r} is not available in Airflow: HTTP {exc.code}") from None
            time.sleep(3.0)
    run = _api("POST", f"/api/v2/dags/{dag_id}/dagRuns", token, {"logical_date": None, "conf": conf})
    run_id = str(run["dag_run_id"])
    if not wait:
        return f"{run_id}: {run['state']}"
    quoted = urllib.parse.quote(run_id, safe="")
    while time.monotonic() < deadline:
        state = str(_api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quoted}", token)["state"])
        if state in ("success", "failed"):
            if state == "failed":
                tis = _api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quoted}/taskInstances", token)["task_instances"]
                failed = [str(ti["task_id"]) for ti in tis if ti["state"] == "failed"]  # type: ignore[attr-defined]
                return f"{run_id}: failed (failed tasks: {', '.join(failed) or 'none'})"
            return f"{run_id}: success"
        time.sleep(3.0)
    raise ServiceError(f"DAG run {run_id} of {dag_id} did not finish within {timeout:.0f} s")
