"""A local PostgreSQL 15+ from Debian's `postgresql` package: the metadata database of the local Airflow.

Airflow's scheduler, triggerer, dag-processor and api-server write to their database at once, which SQLite cannot
take (issue 14: "database is locked" under `make up`). The package's clusters live in /var/lib/postgresql and are
run by systemd; we call its `initdb` and `postgres` directly instead, so data, log, socket and password live in our
state folder and `down` stops exactly the server we started. It listens on 127.0.0.1 only, on port 5433 (not
5432, which a system cluster may hold).

PostgreSQL refuses to run as root. As root we run it as the package's `postgres` user, keeping only the
capability to look up paths (CAP_DAC_READ_SEARCH), because the state folder usually sits under /root (mode 0700)
which that user could not traverse; what it writes is its own folder. As any other user it runs as that user.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

from capillaries_provider.services.process import (
    ServiceError,
    apt_install,
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

DB_URL_ENV = "CAPILLARIES_AIRFLOW_DB_URL"
PORT_ENV = "CAPILLARIES_POSTGRES_PORT"
DEFAULT_PORT = 5433
USER = "airflow"
DATABASE = "airflow"
SERVER_USER = "postgres"
PG_ROOT = Path("/usr/lib/postgresql")
START_TIMEOUT_S = 60.0


def _home() -> Path:
    return state_dir() / "postgres"


def _port() -> int:
    return int(os.environ.get(PORT_ENV, DEFAULT_PORT))


def external_url() -> str | None:
    """The SQLAlchemy URL of an existing database the user points Airflow at; then nothing is started."""
    return os.environ.get(DB_URL_ENV) or None


def db_url() -> str:
    """SQLAlchemy URL of Airflow's metadata database: the user's, or our local server's."""
    configured = external_url()
    if configured:
        return configured
    password = quote((_home() / "password").read_text().strip(), safe="")
    return f"postgresql+psycopg2://{USER}:{password}@127.0.0.1:{_port()}/{DATABASE}"


def _bin_dir() -> Path | None:
    """The newest installed server version's bin folder (the `postgresql` package pulls in e.g. postgresql-15)."""
    found = sorted(PG_ROOT.glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


def _as_server_user() -> list[str]:
    """Command prefix that runs a PostgreSQL program as an unprivileged user (see the module docstring)."""
    if os.geteuid() != 0:
        return []
    return [
        "setpriv",
        f"--reuid={SERVER_USER}",
        f"--regid={SERVER_USER}",
        "--init-groups",
        "--inh-caps=+dac_read_search",
        "--ambient-caps=+dac_read_search",
        "--",
    ]


def _give_to_server_user(*paths: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(SERVER_USER)
        for path in paths:
            os.chown(path, entry.pw_uid, entry.pw_gid)


def server_version(url: str, timeout: int = 3) -> str | None:
    """The server's version when a connection to `url` succeeds (the readiness test), else None."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, connect_args={"connect_timeout": timeout}, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar()).split()[0]
    except Exception:
        return None
    finally:
        engine.dispose()


def _address() -> str:
    configured = external_url()
    if configured:
        from sqlalchemy.engine import make_url

        url = make_url(configured)
        return f"{url.host}:{url.port or 5432}/{url.database}"
    return f"127.0.0.1:{_port()}/{DATABASE}"


def status() -> list[ServiceStatus]:
    """One line, like every service's status (a cluster has one per node)."""
    configured = external_url()
    password_known = configured is not None or (_home() / "password").exists()
    version = server_version(db_url()) if password_known else None
    return [
        ServiceStatus(
            "PostgreSQL",
            running=version is not None,
            address=_address(),
            version=version,
            origin=origin(
                external=configured is not None, pid=read_pid(_home() / "postgres.pid"), answering=version is not None
            ),
            detail="no connection",
        )
    ]


def up() -> list[ServiceStatus]:
    """Start (or reuse) the server and return once a connection succeeds; concurrent callers wait for each other."""
    with start_lock("postgres"):
        return _up()


def _up() -> list[ServiceStatus]:
    if external_url() is not None:
        current = status()
        if not current[0].running:
            raise ServiceError(
                f"external PostgreSQL at {current[0].address} ({DB_URL_ENV}) does not accept connections"
            )
        return current
    home, port = _home(), _port()
    pid_file, log = home / "postgres.pid", home / "postgres.log"
    pid = read_pid(pid_file)
    if pid is None and port_open("127.0.0.1", port):
        raise ServiceError(
            f"port {port} is taken by a process capillaries did not start; stop it, set {PORT_ENV} to another port, "
            f"or set {DB_URL_ENV} to use an existing database"
        )
    if pid is None:
        pid = _start(home, port, log)
        pid_file.write_text(str(pid))
    started = pid
    wait_until(
        lambda: server_version(db_url()) is not None,
        timeout=START_TIMEOUT_S,
        alive=lambda: pid_alive(started),
        what="PostgreSQL",
        logs=(log,),
        interval=0.5,
    )
    return status()


def _start(home: Path, port: int, log: Path) -> int:
    """initdb on first use (user `airflow` with a generated password, database `airflow`), then start postgres."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        apt_install("postgresql")
        bin_dir = _bin_dir()
        if bin_dir is None:
            raise ServiceError(f"the postgresql package installed no server under {PG_ROOT}")
    data, sockets = home / "data", home / "run"
    home.mkdir(parents=True, exist_ok=True)
    sockets.mkdir(exist_ok=True)
    _give_to_server_user(home, sockets)
    if not data.exists():
        _init(bin_dir, home, data, log)
    cmd = [
        *_as_server_user(),
        str(bin_dir / "postgres"),
        "-D",
        str(data),
        "-p",
        str(port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        f"unix_socket_directories={sockets}",
        # A development database: losing the last commits in a machine crash is fine, waiting on fsync is not.
        "-c",
        "synchronous_commit=off",
    ]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    return proc.pid


def _init(bin_dir: Path, home: Path, data: Path, log: Path) -> None:
    """A new cluster with user `airflow` (a generated password) owning database `airflow`; renamed into place
    only when complete, so a failed first start is redone from scratch."""
    partial, password = home / "data.partial", home / "password"
    shutil.rmtree(partial, ignore_errors=True)
    password.write_text(secrets.token_urlsafe(24))
    password.chmod(0o600)
    _run([str(bin_dir / "initdb"), "-D", str(partial), "-U", USER, f"--pwfile={password}", "-A", "scram-sha-256",
          "-E", "UTF8", "--no-instructions"], log)  # fmt: skip
    _run([str(bin_dir / "postgres"), "--single", "-D", str(partial), "postgres"], log,
         stdin=f"CREATE DATABASE {DATABASE} OWNER {USER};\n")  # fmt: skip
    partial.rename(data)


def _run(cmd: list[str], log: Path, stdin: str | None = None) -> None:
    with log.open("ab") as out:
        done = subprocess.run(
            [*_as_server_user(), *cmd], input=(stdin or "").encode(), stdout=out, stderr=subprocess.STDOUT, check=False
        )
    if done.returncode != 0:
        raise ServiceError(f"`{Path(cmd[0]).name}` failed; last lines of {log}:\n{log_tail(log)}")


def down() -> str:
    if external_url() is not None:
        return "PostgreSQL is external: nothing to stop"
    pid_file = _home() / "postgres.pid"
    pid = read_pid(pid_file)
    if pid is None:
        return "PostgreSQL: not started by capillaries, nothing to stop"
    stop_pid(pid)
    pid_file.unlink(missing_ok=True)
    return f"PostgreSQL stopped (pid {pid})"
