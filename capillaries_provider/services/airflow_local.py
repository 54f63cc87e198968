"""Airflow 3.3 standalone on SQLite for this project: examples off, low parallelism, our `dags/` folder.

`airflow standalone` spawns its components as `airflow ...` by name, so the interpreter's `bin` folder (the venv)
is put first on PATH.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

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


def airflow_env() -> dict[str, str]:
    """Environment for every Airflow process of the local stack."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        **os.environ,
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
    pid_file = airflow_home() / "standalone.pid"
    pid = read_pid(pid_file)
    if pid is None:
        return "Airflow: not started by capillaries, nothing to stop"
    stop_pid(pid)
    pid_file.unlink(missing_ok=True)
    time.sleep(0.5)
    return f"Airflow stopped (pid {pid})"
