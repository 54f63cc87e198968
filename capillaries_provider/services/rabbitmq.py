"""A local RabbitMQ node from Debian's `rabbitmq-server` package, run as the current user with its own state.

The package's service wrapper insists on the `rabbitmq` system user and /var/lib/rabbitmq; we call the real
start script with RABBITMQ_* variables instead, so data, logs, cookie and pid file live in our state folder and
`down` can stop exactly the node we started.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import urlparse

from capillaries_provider.config import AmqpSettings, amqp_settings
from capillaries_provider.services.process import (
    ServiceError,
    apt_install,
    pid_alive,
    port_open,
    read_pid,
    start_lock,
    state_dir,
    stop_pid,
    wait_until,
)
from capillaries_provider.services.status import ServiceStatus, origin

NODE_NAME = "capillaries@localhost"
DIST_PORT = 25673
RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
START_TIMEOUT_S = 120.0


def _home() -> Path:
    return state_dir() / "rabbitmq"


def _host_port(settings: AmqpSettings) -> tuple[str, int]:
    url = urlparse(settings.url)
    return url.hostname or "127.0.0.1", url.port or 5672


def _env(port: int) -> dict[str, str]:
    home = _home()
    return {
        **os.environ,
        "HOME": str(home),
        "RABBITMQ_NODENAME": NODE_NAME,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(DIST_PORT),
        "RABBITMQ_MNESIA_BASE": str(home / "mnesia"),
        "RABBITMQ_LOG_BASE": str(home / "log"),
        "RABBITMQ_PID_FILE": str(home / "beam.pid"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(home / "rabbitmq"),
    }


def ensure_installed() -> None:
    if not (RABBIT_BIN / "rabbitmq-server").exists():
        apt_install("rabbitmq-server")


def amqp_ready(settings: AmqpSettings) -> bool:
    """Readiness = an AMQP connection opens."""
    import pika

    params = pika.URLParameters(settings.url)
    params.socket_timeout = 3
    params.blocked_connection_timeout = 3
    params.connection_attempts = 1
    try:
        pika.BlockingConnection(params).close()
        return True
    except Exception:
        return False


def _server_version(settings: AmqpSettings) -> str | None:
    import pika

    params = pika.URLParameters(settings.url)
    params.socket_timeout = 3
    params.connection_attempts = 1
    try:
        conn = pika.BlockingConnection(params)
    except Exception:
        return None
    try:
        props = conn._impl.server_properties  # the broker announces its version on connect
        version = props.get("version", b"")
        return version.decode() if isinstance(version, bytes) else str(version)
    finally:
        conn.close()


def status() -> ServiceStatus:
    settings = amqp_settings()
    host, port = _host_port(settings)
    version = _server_version(settings)
    return ServiceStatus(
        "RabbitMQ",
        running=version is not None,
        address=f"{host}:{port}",
        version=version,
        origin=origin(
            external=settings.external, pid=read_pid(_home() / "rabbitmq.pid"), answering=version is not None
        ),
        detail="no AMQP connection",
    )


def up() -> ServiceStatus:
    """Start (or reuse) the service and return once it answers; concurrent callers wait for each other."""
    with start_lock("rabbitmq"):
        return _up()


def _up() -> ServiceStatus:
    settings = amqp_settings()
    if settings.external:
        current = status()
        if not current.running:
            raise ServiceError(f"external RabbitMQ at {current.address} does not accept AMQP connections")
        return current
    host, port = _host_port(settings)
    home = _home()
    pid_file = home / "rabbitmq.pid"
    pid = read_pid(pid_file)
    if pid is None and port_open("127.0.0.1", port):
        raise ServiceError(
            f"port {port} is taken by a process capillaries did not start; stop it, or set CAPILLARIES_AMQP_URL "
            "to use it as an external RabbitMQ"
        )
    if pid is None:
        ensure_installed()
        home.mkdir(parents=True, exist_ok=True)
        (home / "enabled_plugins").write_text("[].\n")
        pid_file.unlink(missing_ok=True)
        with (home / "stdout.log").open("ab") as out:
            proc = subprocess.Popen(
                [str(RABBIT_BIN / "rabbitmq-server")],
                env=_env(port),
                cwd=home,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        launcher = proc.pid

        def alive() -> bool:
            return pid_alive(launcher) or read_pid(home / "beam.pid") is not None

        wait_until(
            lambda: amqp_ready(settings),
            timeout=START_TIMEOUT_S,
            alive=alive,
            what="RabbitMQ",
            logs=(home / "stdout.log",),
        )
        # The launcher script's pid leads the process group holding the broker; `down` signals that group.
        pid_file.write_text(str(launcher))
    else:
        wait_until(
            lambda: amqp_ready(settings),
            timeout=START_TIMEOUT_S,
            alive=lambda: read_pid(pid_file) is not None,
            what="RabbitMQ",
            logs=(home / "stdout.log",),
        )
    return status()


def down() -> str:
    settings = amqp_settings()
    if settings.external:
        return "RabbitMQ is external: nothing to stop"
    pid_file = _home() / "rabbitmq.pid"
    pid = read_pid(pid_file)
    if pid is None:
        return "RabbitMQ: not started by capillaries, nothing to stop"
    host, port = _host_port(settings)
    ctl = subprocess.run(
        [str(RABBIT_BIN / "rabbitmqctl"), "-n", NODE_NAME, "stop"],
        env=_env(port),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if ctl.returncode != 0 or pid_alive(pid):
        stop_pid(pid)
    pid_file.unlink(missing_ok=True)
    return f"RabbitMQ stopped (pid {pid})"
