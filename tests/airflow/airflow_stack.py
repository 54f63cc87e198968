"""The local Airflow stack (`capillaries airflow up`) on a test-owned home, DAG folder, database, port and queue.

`capillaries_provider.services.airflow_local` reads everything it needs from the environment at call time
(`AIRFLOW_HOME`, `CAPILLARIES_DAGS_FOLDER`, `CAPILLARIES_STATE_DIR`, `CAPILLARIES_AIRFLOW_DB_URL`,
`CAPILLARIES_AMQP_QUEUE`, the `AIRFLOW_CONN_*` connections) except its api-server port, a module constant that is
patched here. So the test stack has its own database in the project's PostgreSQL cluster, its own
`capillaries worker` processes on a queue of its own and a DAG folder in tmp: it never shows test DAGs to a user's
stack and never takes the user's port 8080.

Set `CAPILLARIES_E2E_STACK_DIR` to a folder to keep the stack running after the tests and reuse it next time
(development); otherwise everything is torn down and the database dropped.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

KEEP_ENV = "CAPILLARIES_E2E_STACK_DIR"
START_TIMEOUT_S = 420.0


@dataclass
class Stack:
    root: Path
    dags: Path
    queue: str
    api: Any  # capillaries_provider.services.airflow_api.Client

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        from urllib.parse import quote

        answer = self.api.call(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/logs/{try_number}"
            "?full_content=true",
        )
        content = answer.get("content", answer) if isinstance(answer, dict) else answer
        return content if isinstance(content, str) else json.dumps(content)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _psycopg_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg2://", "postgresql://", 1)


def _admin(url: str, statement: str) -> None:
    import psycopg2

    conn = psycopg2.connect(_psycopg_dsn(url))
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


def _settings(root: Path, keep: bool) -> dict[str, Any]:
    """Port, database and queue of the stack in `root`: new ones, or those recorded by a kept stack."""
    recorded = root / "stack.json"
    if keep and recorded.exists():
        return dict(json.loads(recorded.read_text()))
    from capillaries_provider.services import postgres

    postgres.up()
    token = uuid.uuid4().hex[:8]
    settings: dict[str, Any] = {
        "port": _free_port(),
        "database": f"capillaries_e2e_{token}",
        "server_url": postgres.db_url(),
        "queue": f"capillaries_e2e_{token}",
    }
    _admin(settings["server_url"], f"CREATE DATABASE {settings['database']}")
    recorded.write_text(json.dumps(settings))
    return settings


@contextmanager
def airflow_stack(root: Path, write_dags: Any) -> Iterator[Stack]:
    """Up the stack on `root` (DAG files written first by `write_dags(dags_folder)`, so the first parse sees them)."""
    from capillaries_provider.services import airflow_local
    from capillaries_provider.services.airflow_local import connection_env

    keep = bool(os.environ.get(KEEP_ENV))
    root.mkdir(parents=True, exist_ok=True)
    settings = _settings(root, keep)
    dags = root / "dags"
    dags.mkdir(exist_ok=True)
    write_dags(dags)
    port = int(settings["port"])
    db_url = _with_database(settings["server_url"], settings["database"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_HOME", str(root / "airflow"))
        mp.setenv("CAPILLARIES_DAGS_FOLDER", str(dags))
        mp.setenv("CAPILLARIES_STATE_DIR", str(root / "state"))
        mp.setenv("CAPILLARIES_AIRFLOW_DB_URL", db_url)
        mp.setenv("CAPILLARIES_AMQP_QUEUE", settings["queue"])
        for name, value in connection_env(settings["queue"], override=True).items():
            mp.setenv(name, value)
        mp.setattr(airflow_local, "API_PORT", port)
        mp.setattr(airflow_local, "BASE_URL", f"http://127.0.0.1:{port}")
        mp.setattr(airflow_local, "START_TIMEOUT_S", START_TIMEOUT_S)
        try:
            airflow_local.up()
            yield Stack(root=root, dags=dags, queue=settings["queue"], api=airflow_local.client(budget_s=90.0))
        finally:
            if not keep:
                airflow_local.down()
                _admin(settings["server_url"], f"DROP DATABASE IF EXISTS {settings['database']} WITH (FORCE)")
                (root / "stack.json").unlink(missing_ok=True)
