"""A local Apache Cassandra 5.0 of one or more nodes, fetched from Maven Central and run with Java 17.

No tarball download site is reachable from our machines, only Maven Central, so the server is assembled from
`org.apache.cassandra:cassandra-all` and its runtime dependencies (resolved by mvn from a small pom shipped in
the package) and started directly with `CassandraDaemon`, a cassandra.yaml written here and the JPMS flags of
Cassandra's own jvm17-server.options.

A cluster (`capillaries services up --cassandra-nodes N`) is N such processes on one machine: node i listens on
127.0.0.i with its own folders, node 1 is the seed, and the nodes are started one after the other, each joining
through node 1.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from capillaries_provider.config import CassandraSettings, cassandra_settings
from capillaries_provider.services.process import (
    ServiceError,
    cache_dir,
    cluster_size,
    log_tail,
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

CASSANDRA_VERSION = "5.0.8"
STORAGE_PORT = 7000
START_TIMEOUT_S = 240.0


def _lib_dir() -> Path:
    return cache_dir() / f"cassandra-{CASSANDRA_VERSION}" / "lib"


def _resource(name: str) -> str:
    return resources.files("capillaries_provider.services").joinpath("resources", name).read_text()


def java_major_version(java: str = "java") -> int:
    """Major version of `java` (17 for "17.0.15"); ServiceError when Java is missing."""
    exe = shutil.which(java)
    if exe is None:
        raise ServiceError("Java not found: Cassandra 5.0 needs Java 17 (install openjdk-17-jre-headless)")
    out = subprocess.run([exe, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if match is None:
        raise ServiceError(f"cannot read the Java version from `{exe} -version`: {out.strip()[:120]}")
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else "java"
    major = java_major_version(java)
    if major != 17:
        raise ServiceError(f"Cassandra {CASSANDRA_VERSION} here runs on Java 17, found Java {major} ({java})")
    return java


def fetch() -> Path:
    """Resolve cassandra-all and its runtime jars into the cache (once); return the lib folder."""
    lib = _lib_dir()
    marker = lib.parent / ".complete"
    if marker.exists():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServiceError("Maven (mvn) not found: it is needed once to fetch Cassandra from Maven Central")
    lib.parent.mkdir(parents=True, exist_ok=True)
    partial = lib.parent / "lib.partial"
    shutil.rmtree(partial, ignore_errors=True)
    pom = lib.parent / "pom.xml"
    pom.write_text(_resource("cassandra-pom.xml"))
    log = lib.parent / "fetch.log"
    cmd = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(pom),
        f"-Dcassandra.version={CASSANDRA_VERSION}",
        "dependency:copy-dependencies",
        f"-DoutputDirectory={partial}",
        "-DincludeScope=runtime",
    ]
    with log.open("w") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0 or not (partial / f"cassandra-all-{CASSANDRA_VERSION}.jar").exists():
        raise ServiceError(f"download of Cassandra {CASSANDRA_VERSION} from Maven Central failed:\n{log_tail(log)}")
    shutil.rmtree(lib, ignore_errors=True)
    partial.rename(lib)
    marker.write_text(CASSANDRA_VERSION)
    return lib


def node_address(node: int) -> str:
    """Node i listens on 127.0.0.i: all of 127.0.0.0/8 is loopback on Linux, so every node keeps the usual ports."""
    return f"127.0.0.{node}"


def seeds() -> str:
    """The seed list: node 1, the node every other one learns the ring from (and the one started first)."""
    return f"{node_address(1)}:{STORAGE_PORT}"


def node_home(node: int) -> Path:
    """Data, logs and pid file of node i; node 1 keeps the single-node folder, so that state stays valid."""
    return state_dir() / ("cassandra" if node == 1 else f"cassandra-{node}")


def heap_mb(nodes: int) -> int:
    """JVM heap per node: a single node keeps the 1 GB its benchmarks were measured with (docs/performance.md);
    in a cluster 512 MB each, so three nodes fit next to the workers of a small machine."""
    return 1024 if nodes == 1 else 512


def render_config(template: str, *, node: int, nodes: int, home: Path, native_port: int) -> str:
    """cassandra.yaml of node `node` of `nodes`: its own folders and address, node 1 as seed, memtables at a
    quarter of the heap (Cassandra's default share)."""
    values = {
        "{state}": str(home),
        "{address}": node_address(node),
        "{seeds}": seeds(),
        "{storage_port}": str(STORAGE_PORT),
        "{native_port}": str(native_port),
        "{memtable_heap_mb}": str(heap_mb(nodes) // 4),
    }
    for key, value in values.items():
        template = template.replace(key, value)
    return template


def _write_config(node: int, nodes: int, settings: CassandraSettings) -> Path:
    home = node_home(node)
    conf = home / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    yaml = render_config(
        _resource("cassandra.yaml.template"), node=node, nodes=nodes, home=home, native_port=settings.port
    )
    (conf / "cassandra.yaml").write_text(yaml)
    (conf / "logback.xml").write_text(_resource("logback.xml"))
    return conf


def _jvm_options() -> list[str]:
    """The flags as single arguments (`--add-opens X` becomes `--add-opens=X` on a command line)."""
    return [
        "=".join(line.split(None, 1))
        for line in (raw.strip() for raw in _resource("jvm17-server.options").splitlines())
        if line and not line.startswith("#")
    ]


def query_version(hosts: Sequence[str], settings: CassandraSettings, timeout: float = 5.0) -> str | None:
    """release_version of a node when a CQL query on one of `hosts` succeeds (the readiness test), else None."""
    rows = _query(hosts, settings, "SELECT release_version FROM system.local", timeout)
    return str(rows[0].release_version) if rows else None


def peers(settings: CassandraSettings, timeout: float = 5.0) -> set[str] | None:
    """Addresses node 1 lists in `system.peers` (the nodes that joined its ring), None if it does not answer."""
    rows = _query([node_address(1)], settings, "SELECT peer FROM system.peers", timeout)
    return None if rows is None else {str(row.peer) for row in rows}


def schema_version(address: str, settings: CassandraSettings, timeout: float = 5.0) -> str | None:
    """The schema version the node at `address` holds, None if it does not answer."""
    rows = _query([address], settings, "SELECT schema_version FROM system.local", timeout)
    return str(rows[0].schema_version) if rows else None


def _query(hosts: Sequence[str], settings: CassandraSettings, cql: str, timeout: float) -> list[Any] | None:
    """Rows of `cql` asked of `hosts` only (not of the peers the driver discovers), None on any failure."""
    if not any(port_open(h, settings.port) for h in hosts):
        return None
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
    from cassandra.policies import WhiteListRoundRobinPolicy

    auth = PlainTextAuthProvider(settings.username, settings.password) if settings.username else None
    profile = ExecutionProfile(load_balancing_policy=WhiteListRoundRobinPolicy(list(hosts)), request_timeout=timeout)
    cluster = Cluster(
        list(hosts),
        port=settings.port,
        auth_provider=auth,
        connect_timeout=timeout,
        protocol_version=5,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
    )
    try:
        return list(cluster.connect().execute(cql))
    except Exception:
        return None
    finally:
        cluster.shutdown()


def _address(hosts: Sequence[str], settings: CassandraSettings) -> str:
    return ",".join(f"{h}:{settings.port}" for h in hosts)


def _node_status(settings: CassandraSettings, node: int) -> ServiceStatus:
    version = query_version([node_address(node)], settings)
    return ServiceStatus(
        "Cassandra",
        running=version is not None,
        address=_address([node_address(node)], settings),
        version=version,
        origin=origin(external=False, pid=read_pid(node_home(node) / "cassandra.pid"), answering=version is not None),
        detail="no CQL answer",
    )


def status() -> list[ServiceStatus]:
    """One line per local node; an external cluster is one line for its contact points."""
    settings = cassandra_settings()
    if not settings.external:
        return [_node_status(settings, node) for node in range(1, nodes_in_state(node_home) + 1)]
    version = query_version(settings.hosts, settings)
    return [
        ServiceStatus(
            "Cassandra",
            running=version is not None,
            address=_address(settings.hosts, settings),
            version=version,
            origin="external",
            detail="no CQL answer",
        )
    ]


def up(nodes: int | None = None) -> list[ServiceStatus]:
    """Start (or reuse) `nodes` local nodes (default: as many as the state holds, 1 at first) and return once all
    answer; concurrent callers wait for each other."""
    with start_lock("cassandra"):
        return _up(nodes)


def _up(requested: int | None) -> list[ServiceStatus]:
    settings = cassandra_settings()
    if settings.external:
        current = status()
        if not current[0].running:
            raise ServiceError(f"external Cassandra at {current[0].address} does not answer CQL")
        return current
    nodes = cluster_size("Cassandra cluster", node_home, requested)
    # One node at a time: Cassandra refuses to bootstrap two nodes at once, and each joins through node 1.
    for node in range(1, nodes + 1):
        _start_node(settings, node, nodes)
    return status()


def _start_node(settings: CassandraSettings, node: int, nodes: int) -> None:
    """Start node `node` unless it runs, and wait until it answers CQL and node 1 lists nodes 2..`node` as peers."""
    home, address = node_home(node), node_address(node)
    pid_file = home / "cassandra.pid"
    pid = read_pid(pid_file)
    if pid is None and port_open(address, settings.port):
        raise ServiceError(
            f"port {settings.port} at {address} is taken by a process capillaries did not start; stop it, or set "
            "CAPILLARIES_CASSANDRA_HOSTS to use it as an external Cassandra"
        )
    if pid is None:
        if port_open(address, STORAGE_PORT):
            raise ServiceError(f"Cassandra storage port {address}:{STORAGE_PORT} is taken by another process")
        java, lib = _java(), fetch()
        conf = _write_config(node, nodes, settings)
        (home / "logs").mkdir(parents=True, exist_ok=True)
        with (home / "logs" / "stdout.log").open("ab") as out:
            proc = subprocess.Popen(
                jvm_command(java, lib, conf, home, heap_mb(nodes)),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        pid_file.write_text(str(proc.pid))
        pid = proc.pid
    started = pid
    joined = {node_address(other) for other in range(2, node + 1)}

    def ready() -> bool:
        if query_version([address], settings) is None:
            return False
        listed = peers(settings) if joined else set()
        if listed is None or not joined <= listed:
            return False
        # A node that rejoins must also have caught up on the schema: until then a keyspace made through another
        # node "does not exist" on it, and the statements it coordinates fail.
        return node == 1 or schema_version(address, settings) == schema_version(node_address(1), settings)

    wait_until(
        ready,
        timeout=START_TIMEOUT_S,
        alive=lambda: pid_alive(started),
        what=f"Cassandra {CASSANDRA_VERSION} at {address}",
        logs=(home / "logs" / "stdout.log", home / "logs" / "system.log"),
        interval=2.0,
    )


def jvm_command(java: str, lib: Path, conf: Path, home: Path, heap: int) -> list[str]:
    """The CassandraDaemon command line of one node (`heap` in MB, fixed so the node never grows past it)."""
    return [
        java,
        f"-Xms{heap}m",
        f"-Xmx{heap}m",
        "-XX:+UseG1GC",
        "-XX:+HeapDumpOnOutOfMemoryError",
        "-Xss256k",
        *_jvm_options(),
        f"-Dcassandra.config=file://{conf / 'cassandra.yaml'}",
        f"-Dlogback.configurationFile={conf / 'logback.xml'}",
        f"-Dcassandra.logdir={home / 'logs'}",
        f"-Dcassandra.storagedir={home}",
        "-Dcassandra-foreground=yes",
        "-Dcassandra.skip_wait_for_gossip_to_settle=0",
        "-Dcassandra.ring_delay_ms=1000",
        "-Dcassandra.load_ring_state=false",
        "-cp",
        f"{conf}:{lib}/*",
        "org.apache.cassandra.service.CassandraDaemon",
    ]


def down() -> str:
    """Stop every local node, the last one first (node 1, the seed, goes last)."""
    settings = cassandra_settings()
    if settings.external:
        return "Cassandra is external: nothing to stop"
    lines = []
    for node in range(nodes_in_state(node_home), 0, -1):
        address = _address([node_address(node)], settings)
        pid_file = node_home(node) / "cassandra.pid"
        pid = read_pid(pid_file)
        if pid is None:
            lines.append(f"Cassandra at {address}: not started by capillaries, nothing to stop")
            continue
        stop_pid(pid)
        pid_file.unlink(missing_ok=True)
        lines.append(f"Cassandra at {address} stopped (pid {pid})")
    return "\n".join(lines)
