"""A local RabbitMQ from Debian's `rabbitmq-server` package, one node or a cluster of N, run as the current user
with its own state.

The package's service wrapper insists on the `rabbitmq` system user and /var/lib/rabbitmq; we call the real
start script with RABBITMQ_* variables instead, so data, logs, cookie and pid file live in our state folder and
`down` can stop exactly the nodes we started. Node i of a cluster (`--rabbitmq-nodes N`) has its own node name,
AMQP and distribution ports and folder; nodes 2..N join node 1 with `rabbitmqctl join_cluster`.
"""

from __future__ import annotations

import json
import os
import secrets
import string
import subprocess
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from capillaries_provider.config import AmqpSettings, amqp_settings
from capillaries_provider.services.process import (
    ServiceError,
    apt_install,
    cluster_size,
    nodes_in_state,
    pid_alive,
    port_open,
    read_pid,
    start_lock,
    state_dir,
    stop_pid,
    wait_until,
)
from capillaries_provider.services.status import ServiceStatus, origin

DIST_PORT = 25673
RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
START_TIMEOUT_S = 120.0
CTL_TIMEOUT_S = 60.0


def node_name(node: int) -> str:
    """Erlang node name of node i; node 1 keeps the single node's name, under which its data is stored."""
    return "capillaries@localhost" if node == 1 else f"capillaries{node}@localhost"


def node_home(node: int) -> Path:
    """Data, logs and pid file of node i; node 1 keeps the single-node folder, so that state stays valid."""
    return state_dir() / ("rabbitmq" if node == 1 else f"rabbitmq-{node}")


def _host_port(settings: AmqpSettings) -> tuple[str, int]:
    url = urlparse(settings.url)
    return url.hostname or "127.0.0.1", url.port or 5672


def amqp_port(settings: AmqpSettings, node: int) -> int:
    """Node i takes the configured AMQP port + i - 1 (5672, 5673, ...)."""
    return _host_port(settings)[1] + node - 1


def dist_port(node: int) -> int:
    """Erlang distribution (inter-node) port of node i: 25673, 25674, ..."""
    return DIST_PORT + node - 1


def node_url(settings: AmqpSettings, node: int) -> str:
    """The configured broker URL pointed at node i's AMQP port (credentials and virtual host unchanged)."""
    url = urlparse(settings.url)
    credentials = url.netloc.rpartition("@")[0]
    netloc = f"{credentials}@" if credentials else ""
    return urlunparse(url._replace(netloc=f"{netloc}{url.hostname or '127.0.0.1'}:{amqp_port(settings, node)}"))


def node_env(settings: AmqpSettings, node: int) -> dict[str, str]:
    """Environment of node i's server and of `rabbitmqctl` talking to it.

    HOME is node 1's folder for every node: Erlang reads the cluster's shared cookie from `$HOME/.erlang.cookie`.
    """
    home = node_home(node)
    return {
        **os.environ,
        "HOME": str(node_home(1)),
        "RABBITMQ_NODENAME": node_name(node),
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(amqp_port(settings, node)),
        "RABBITMQ_DIST_PORT": str(dist_port(node)),
        "RABBITMQ_MNESIA_BASE": str(home / "mnesia"),
        "RABBITMQ_LOG_BASE": str(home / "log"),
        "RABBITMQ_PID_FILE": str(home / "beam.pid"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(home / "rabbitmq"),
    }


def running_nodes(cluster_status_json: str) -> set[str]:
    """Node names `rabbitmqctl cluster_status --formatter json` reports as running."""
    return set(json.loads(cluster_status_json).get("running_nodes", []))


def member_nodes(cluster_status_json: str) -> set[str]:
    """Node names that belong to the cluster, running or not (all our nodes are disc nodes)."""
    status = json.loads(cluster_status_json)
    return set(status.get("disk_nodes", [])) | set(status.get("ram_nodes", []))


def ensure_installed() -> None:
    if not (RABBIT_BIN / "rabbitmq-server").exists():
        apt_install("rabbitmq-server")


def amqp_ready(url: str) -> bool:
    """Readiness of one node = an AMQP connection opens."""
    import pika

    params = pika.URLParameters(url)
    params.socket_timeout = 3
    params.blocked_connection_timeout = 3
    params.connection_attempts = 1
    try:
        pika.BlockingConnection(params).close()
        return True
    except Exception:
        return False


def _server_version(url: str) -> str | None:
    import pika

    params = pika.URLParameters(url)
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


def _node_status(settings: AmqpSettings, node: int) -> ServiceStatus:
    version = _server_version(node_url(settings, node))
    pid = read_pid(node_home(node) / "rabbitmq.pid")
    return ServiceStatus(
        "RabbitMQ",
        running=version is not None,
        address=f"{_host_port(settings)[0]}:{amqp_port(settings, node)}",
        version=version,
        origin=origin(external=settings.external, pid=pid, answering=version is not None),
        detail="no AMQP connection",
    )


def status() -> list[ServiceStatus]:
    """One line per local node; an external broker is one line for its URL."""
    settings = amqp_settings()
    nodes = 1 if settings.external else nodes_in_state(node_home)
    return [_node_status(settings, node) for node in range(1, nodes + 1)]


def up(nodes: int | None = None) -> list[ServiceStatus]:
    """Start (or reuse) `nodes` local nodes (default: as many as the state holds, 1 at first) and return once they
    answer and form one cluster; concurrent callers wait for each other."""
    with start_lock("rabbitmq"):
        return _up(nodes)


def _up(requested: int | None) -> list[ServiceStatus]:
    settings = amqp_settings()
    if settings.external:
        current = status()
        if not current[0].running:
            raise ServiceError(f"external RabbitMQ at {current[0].address} does not accept AMQP connections")
        return current
    nodes = cluster_size("RabbitMQ cluster", node_home, requested)
    # All at once: a restarted cluster node waits for the peers it last saw, so one at a time could deadlock.
    launched = {node: _launch(settings, node) for node in range(1, nodes + 1)}
    for node, launcher in launched.items():
        _wait_ready(settings, node, launcher)
    if nodes > 1:
        for node in range(2, nodes + 1):
            _join(settings, node)
        names = {node_name(node) for node in range(1, nodes + 1)}
        wait_until(
            lambda: names <= _running(settings),
            timeout=START_TIMEOUT_S,
            alive=lambda: all(read_pid(node_home(node) / "rabbitmq.pid") for node in range(1, nodes + 1)),
            what=f"RabbitMQ cluster of {nodes} nodes",
            logs=tuple(node_home(node) / "stdout.log" for node in range(1, nodes + 1)),
        )
    return status()


def _launch(settings: AmqpSettings, node: int) -> int | None:
    """Start node `node` unless it runs; the launcher's pid, or None when the node was already running."""
    home, port = node_home(node), amqp_port(settings, node)
    pid_file = home / "rabbitmq.pid"
    if read_pid(pid_file) is not None:
        return None
    if port_open("127.0.0.1", port):
        raise ServiceError(
            f"port {port} is taken by a process capillaries did not start; stop it, or set CAPILLARIES_AMQP_URL "
            "to use it as an external RabbitMQ"
        )
    ensure_installed()
    home.mkdir(parents=True, exist_ok=True)
    _ensure_cookie()
    (home / "enabled_plugins").write_text("[].\n")
    pid_file.unlink(missing_ok=True)
    with (home / "stdout.log").open("ab") as out:
        proc = subprocess.Popen(
            [str(RABBIT_BIN / "rabbitmq-server")],
            env=node_env(settings, node),
            cwd=home,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    # The launcher script's pid leads the process group holding the broker; `down` signals that group. Recorded at
    # once, so a node whose cluster fails to start is still stopped by `down`.
    pid_file.write_text(str(proc.pid))
    return proc.pid


def _wait_ready(settings: AmqpSettings, node: int, launcher: int | None) -> None:
    """Wait until node `node` (started now when `launcher` is its pid, else already running) accepts AMQP."""
    home = node_home(node)

    def alive() -> bool:
        if launcher is None:
            return read_pid(home / "rabbitmq.pid") is not None
        return pid_alive(launcher) or read_pid(home / "beam.pid") is not None

    wait_until(
        lambda: amqp_ready(node_url(settings, node)),
        timeout=START_TIMEOUT_S,
        alive=alive,
        what=f"RabbitMQ node {node_name(node)}",
        logs=(home / "stdout.log",),
    )


def _ensure_cookie() -> None:
    """One Erlang cookie for every node (HOME is shared, see node_env), written before two fresh nodes could race to
    create it; readable by the owner only, as Erlang demands."""
    cookie = node_home(1) / ".erlang.cookie"
    if cookie.exists():
        return
    cookie.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(cookie, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    with os.fdopen(fd, "w") as out:
        out.write("".join(secrets.choice(string.ascii_uppercase) for _ in range(20)))


def _join(settings: AmqpSettings, node: int) -> None:
    """Make node `node` a member of node 1's cluster, once (a restarted member rejoins by itself)."""
    if node_name(node) in member_nodes(_ctl(settings, 1, "cluster_status", "--formatter", "json").stdout):
        return
    for args in (("stop_app",), ("join_cluster", node_name(1)), ("start_app",)):
        _ctl(settings, node, *args)


def _running(settings: AmqpSettings) -> set[str]:
    try:
        return running_nodes(_ctl(settings, 1, "cluster_status", "--formatter", "json").stdout)
    except (ServiceError, ValueError):
        return set()


def _ctl(settings: AmqpSettings, node: int, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`rabbitmqctl -q -n <node> ARGS`; ServiceError when it hangs, or fails and `check`."""
    what = f"`rabbitmqctl -n {node_name(node)} {' '.join(args)}`"
    cmd = [str(RABBIT_BIN / "rabbitmqctl"), "-q", "-n", node_name(node), *args]
    try:
        done = subprocess.run(
            cmd, env=node_env(settings, node), capture_output=True, text=True, check=False, timeout=CTL_TIMEOUT_S
        )
    except subprocess.TimeoutExpired as exc:
        raise ServiceError(f"{what} did not finish within {CTL_TIMEOUT_S:.0f} s") from exc
    if check and done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
        raise ServiceError(f"{what} failed: {' / '.join(tail)}")
    return done


def down() -> str:
    """Stop every local node, node 1 last: a cluster restarts without waiting when its last node starts first."""
    settings = amqp_settings()
    if settings.external:
        return "RabbitMQ is external: nothing to stop"
    lines = []
    for node in range(nodes_in_state(node_home), 0, -1):
        pid_file = node_home(node) / "rabbitmq.pid"
        pid = read_pid(pid_file)
        if pid is None:
            lines.append(f"RabbitMQ {node_name(node)}: not started by capillaries, nothing to stop")
            continue
        try:
            stopped = _ctl(settings, node, "stop", check=False).returncode == 0
        except ServiceError:
            stopped = False
        if not stopped or pid_alive(pid):
            stop_pid(pid)
        pid_file.unlink(missing_ok=True)
        lines.append(f"RabbitMQ {node_name(node)} stopped (pid {pid})")
    return "\n".join(lines)
