"""Small process helpers shared by the local service launchers: pid files, ports, log tails, waiting."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path


class ServiceError(Exception):
    """A one-line, user-facing reason why a local service could not be started, checked or stopped."""


def state_dir() -> Path:
    """Where local services keep data, logs and pid files (outside the work tree)."""
    return Path(os.environ.get("CAPILLARIES_STATE_DIR", Path.home() / ".capillaries" / "state"))


def cache_dir() -> Path:
    """Where downloaded artefacts (Cassandra jars) are cached across set-ups."""
    return Path(os.environ.get("CAPILLARIES_CACHE_DIR", Path.home() / ".cache" / "capillaries"))


def apt_install(package: str) -> None:
    """Install a Debian package a local service (or a test server) needs on a fresh machine, as root or with sudo
    and no password; `apt-get update` runs only if the first install attempt fails."""
    apt = shutil.which("apt-get")
    if apt is None:
        raise ServiceError(f"{package} is not installed and apt-get is unavailable; install {package}")
    prefix: list[str] = []
    if os.geteuid() != 0:
        sudo = shutil.which("sudo")
        if sudo is None:
            raise ServiceError(f"{package} is not installed; run `sudo apt-get install {package}`")
        prefix = [sudo, "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*prefix, apt, "install", "-y", "-q", package]
    if subprocess.run(install, capture_output=True, text=True, env=env, check=False).returncode == 0:
        return  # the package lists were fresh enough; `apt-get update` costs seconds
    for cmd in ([*prefix, apt, "-q", "update"], install):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
            raise ServiceError(f"`{' '.join(cmd)}` failed: {' / '.join(tail)}")


def read_pid(pid_file: Path) -> int | None:
    """The pid recorded in `pid_file` if that process is still alive, else None."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text[-lines:])


def wait_until(
    ready: Callable[[], bool],
    *,
    timeout: float,
    alive: Callable[[], bool],
    what: str,
    logs: Sequence[Path],
    interval: float = 1.0,
) -> None:
    """Poll `ready` until it holds; fail fast with the log tails if the process dies, or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if not alive():
            raise ServiceError(f"{what} exited during start-up\n{_tails(logs)}")
        time.sleep(interval)
    raise ServiceError(f"{what} not ready after {timeout:.0f} s\n{_tails(logs)}")


def _tails(logs: Sequence[Path]) -> str:
    return "\n".join(f"last lines of {log}:\n{log_tail(log)}" for log in logs if log.exists())


def stop_pid(pid: int, *, timeout: float = 60.0) -> None:
    """SIGTERM the process group we started, then SIGKILL it if it does not exit in time."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + (timeout if sig == signal.SIGTERM else 10)
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(0.3)
    raise ServiceError(f"process {pid} did not stop")


@contextlib.contextmanager
def start_lock(name: str) -> Iterator[None]:
    """Serialise concurrent `up` calls for one service (two test sessions must not both start a broker)."""
    lock_dir = state_dir()
    lock_dir.mkdir(parents=True, exist_ok=True)
    with (lock_dir / f"{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def nodes_in_state(home: Callable[[int], Path]) -> int:
    """How many nodes a local cluster has: node 1 plus every further node whose state folder exists."""
    nodes = 1
    while home(nodes + 1).exists():
        nodes += 1
    return nodes


def cluster_size(what: str, home: Callable[[int], Path], requested: int | None) -> int:
    """The node count `up` runs: `requested`, or (None) as many as the state holds.

    A cluster is never shrunk in place: node 1 still counts the others as members (and with RF 1 holds only part of
    the data), so fewer nodes than the state holds is refused.
    """
    held = nodes_in_state(home)
    if requested is None:
        return held
    if requested < 1:
        raise ServiceError(f"{what}: the node count must be at least 1, got {requested}")
    if requested < held:
        folders = ", ".join(str(home(node)) for node in range(1, held + 1))
        raise ServiceError(
            f"the local {what} has {held} nodes; start all {held}, or stop it and remove {folders} for a fresh "
            f"{requested}-node one"
        )
    return requested
