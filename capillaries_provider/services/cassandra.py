"""A local single-node Apache Cassandra 5.0, fetched from Maven Central and run with Java 17.

No tarball download site is reachable from our machines, only Maven Central, so the server is assembled from
`org.apache.cassandra:cassandra-all` and its runtime dependencies (resolved by mvn from a small pom shipped in
the package) and started directly with `CassandraDaemon`, a cassandra.yaml written here and the JPMS flags of
Cassandra's own jvm17-server.options.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

from capillaries_provider.config import CassandraSettings, cassandra_settings
from capillaries_provider.services.process import (
    ServiceError,
    cache_dir,
    log_tail,
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
HEAP = "1G"
STORAGE_PORT = 7000
START_TIMEOUT_S = 240.0


def _home() -> Path:
    return state_dir() / "cassandra"


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


def _write_config(home: Path, settings: CassandraSettings) -> Path:
    conf = home / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    yaml = _resource("cassandra.yaml.template")
    for key, value in {
        "{state}": str(home),
        "{storage_port}": str(STORAGE_PORT),
        "{native_port}": str(settings.port),
    }.items():
        yaml = yaml.replace(key, value)
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


def query_version(settings: CassandraSettings, timeout: float = 5.0) -> str | None:
    """release_version of the node when a CQL query succeeds (the readiness test), else None."""
    if not any(port_open(h, settings.port) for h in settings.hosts):
        return None
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import Cluster

    auth = PlainTextAuthProvider(settings.username, settings.password) if settings.username else None
    cluster = Cluster(
        list(settings.hosts), port=settings.port, auth_provider=auth, connect_timeout=timeout, protocol_version=5
    )
    try:
        session = cluster.connect()
        row = session.execute("SELECT release_version FROM system.local", timeout=timeout).one()
        return str(row.release_version)
    except Exception:
        return None
    finally:
        cluster.shutdown()


def _address(settings: CassandraSettings) -> str:
    return ",".join(f"{h}:{settings.port}" for h in settings.hosts)


def status() -> ServiceStatus:
    settings = cassandra_settings()
    version = query_version(settings)
    return ServiceStatus(
        "Cassandra",
        running=version is not None,
        address=_address(settings),
        version=version,
        origin=origin(
            external=settings.external, pid=read_pid(_home() / "cassandra.pid"), answering=version is not None
        ),
        detail="no CQL answer",
    )


def up() -> ServiceStatus:
    """Start (or reuse) the service and return once it answers; concurrent callers wait for each other."""
    with start_lock("cassandra"):
        return _up()


def _up() -> ServiceStatus:
    """Start (or reuse) the local node and return once a CQL query succeeds."""
    settings = cassandra_settings()
    home = _home()
    if settings.external:
        current = status()
        if not current.running:
            raise ServiceError(f"external Cassandra at {_address(settings)} does not answer CQL")
        return current
    pid_file = home / "cassandra.pid"
    logs = (home / "logs" / "stdout.log", home / "logs" / "system.log")
    pid = read_pid(pid_file)
    if pid is None and port_open("127.0.0.1", settings.port):
        raise ServiceError(
            f"port {settings.port} is taken by a process capillaries did not start; stop it, or set "
            "CAPILLARIES_CASSANDRA_HOSTS to use it as an external Cassandra"
        )
    if pid is None:
        if port_open("127.0.0.1", STORAGE_PORT):
            raise ServiceError(f"Cassandra storage port {STORAGE_PORT} is taken by another process")
        java = _java()
        lib = fetch()
        conf = _write_config(home, settings)
        (home / "logs").mkdir(parents=True, exist_ok=True)
        cmd = [
            java,
            f"-Xms{HEAP}",
            f"-Xmx{HEAP}",
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
        with (home / "logs" / "stdout.log").open("ab") as out:
            proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        pid_file.write_text(str(proc.pid))
        pid = proc.pid
    started = pid

    def alive() -> bool:
        return pid_alive(started)

    wait_until(
        lambda: query_version(settings) is not None,
        timeout=START_TIMEOUT_S,
        alive=alive,
        what=f"Cassandra {CASSANDRA_VERSION}",
        logs=logs,
        interval=2.0,
    )
    return status()


def down() -> str:
    settings = cassandra_settings()
    if settings.external:
        return "Cassandra is external: nothing to stop"
    pid_file = _home() / "cassandra.pid"
    pid = read_pid(pid_file)
    if pid is None:
        return "Cassandra: not started by capillaries, nothing to stop"
    stop_pid(pid)
    pid_file.unlink(missing_ok=True)
    return f"Cassandra stopped (pid {pid})"
