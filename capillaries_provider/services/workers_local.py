"""Background `capillaries worker` processes for the local stack (Airflow DAGs need workers to do the data work)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from capillaries_provider.config import amqp_settings
from capillaries_provider.services.process import ServiceError, log_tail, read_pid, state_dir, stop_pid
from capillaries_provider.services.status import ServiceStatus

DEFAULT_PROCESSES = 2


def _home() -> Path:
    return state_dir() / "workers"


def status() -> ServiceStatus:
    pid = read_pid(_home() / "workers.pid")
    return ServiceStatus(
        "Workers",
        running=pid is not None,
        address=f"queue {amqp_settings().queue}",
        origin=f"started by capillaries, pid {pid}" if pid else "",
        detail="not running",
    )


def up(processes: int = DEFAULT_PROCESSES) -> ServiceStatus:
    """Start `capillaries worker --processes N` in the background unless ours is already running."""
    home = _home()
    home.mkdir(parents=True, exist_ok=True)
    pid_file = home / "workers.pid"
    if read_pid(pid_file) is None:
        log = home / "workers.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "capillaries_provider.cli.main", "worker", "--processes", str(processes)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        time.sleep(2.0)
        if proc.poll() is not None:
            raise ServiceError(f"capillaries worker exited at start-up; last lines of {log}:\n{log_tail(log)}")
        pid_file.write_text(str(proc.pid))
    return status()


def down() -> str:
    pid_file = _home() / "workers.pid"
    pid = read_pid(pid_file)
    if pid is None:
        return "Workers: not started by capillaries, nothing to stop"
    stop_pid(pid, timeout=120.0)
    pid_file.unlink(missing_ok=True)
    return f"Workers stopped (pid {pid})"
