"""Secrets come only from the environment or Airflow connections and never reach logs, run data or output.

The unit part checks the settings objects and the TLS switch of the broker URL; the integration part runs the real
CLI and workers with unique secret strings in their environment, on the happy path and on connection-error paths
(where leaks usually happen), and greps every log, every CLI output and every workflow table for them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pika
import pytest
from cassandra.cluster import Session
from reliability_env import Env, drop_keyspace_patiently, stop_worker, wait_for

from capillaries_provider.config import amqp_settings, cassandra_settings

CASS_PASSWORD = f"S3cret-cass-{uuid.uuid4().hex[:8]}"
AMQP_PASSWORD = f"S3cret-amqp-{uuid.uuid4().hex[:8]}"
WORKER_RETRY_WATCH_S = 60


def test_settings_from_the_environment_keep_passwords_out_of_repr() -> None:
    env = {
        "CAPILLARIES_CASSANDRA_USERNAME": "capi",
        "CAPILLARIES_CASSANDRA_PASSWORD": CASS_PASSWORD,
        "CAPILLARIES_AMQP_URL": f"amqp://capi:{AMQP_PASSWORD}@mq.example:5672/%2F",
    }
    cass, amqp = cassandra_settings(env), amqp_settings(env)
    assert cass.password == CASS_PASSWORD and cass.username == "capi"
    assert AMQP_PASSWORD in amqp.url
    for text in (repr(cass), str(cass), repr(amqp), str(amqp)):
        assert CASS_PASSWORD not in text and AMQP_PASSWORD not in text


def test_settings_from_airflow_connections_keep_passwords_out_of_repr_and_switch_to_tls() -> None:
    from capillaries_provider.hooks.capillaries import amqp_settings_from_connection, cassandra_settings_from_connection

    cass_conn = SimpleNamespace(
        conn_id="cassandra_default", host="c1,c2", port=9042, login="capi", password=CASS_PASSWORD, extra=None
    )
    amqp_conn = SimpleNamespace(
        conn_id="capillaries_amqp_default",
        host="mq.example",
        port=5671,
        login="capi",
        password=AMQP_PASSWORD,
        schema="",
        extra='{"ssl": "true"}',
        extra_dejson={"ssl": "true"},
    )
    cass = cassandra_settings_from_connection(cass_conn)
    amqp = amqp_settings_from_connection(amqp_conn)
    assert cass.hosts == ("c1", "c2") and cass.password == CASS_PASSWORD
    assert amqp.url == f"amqps://capi:{AMQP_PASSWORD}@mq.example:5671/%2F"
    for text in (repr(cass), repr(amqp)):
        assert CASS_PASSWORD not in text and AMQP_PASSWORD not in text


def test_an_amqps_url_opens_a_tls_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """RabbitMQ TLS is configured by the URL scheme (`amqps://`, pika's `ssl_options` query for CA/certs)."""
    from capillaries_provider.queue import connection

    seen: list[pika.URLParameters] = []

    def refuse(params: pika.URLParameters) -> Any:
        seen.append(params)
        raise pika.exceptions.AMQPConnectionError("test stops here")

    monkeypatch.setattr(connection.pika, "BlockingConnection", refuse)
    settings = amqp_settings({"CAPILLARIES_AMQP_URL": f"amqps://capi:{AMQP_PASSWORD}@mq.example:5671/%2F"})
    with pytest.raises(pika.exceptions.AMQPConnectionError):
        connection.open_channel(settings)
    (params,) = seen
    assert params.ssl_options is not None
    assert (params.host, params.port) == ("mq.example", 5671)
    plain = amqp_settings({"CAPILLARIES_AMQP_URL": "amqp://capi:x@mq.example:5672/%2F"})
    with pytest.raises(pika.exceptions.AMQPConnectionError):
        connection.open_channel(plain)
    assert seen[1].ssl_options is None


# -- integration ------------------------------------------------------------------------------------------------


GOOD_CSV = "id,name\n1,a\n2,b\n"
BAD_CSV = "id,name\n1,a\nx,b\n"
POLICY = {
    "is_default": True,
    "event_priority_order": "run_is_current(desc)",
    "rules": [{"cmd": "go", "expression": "nrs.run_is_current == true && nrs.node_status == wfmodel.NodeBatchSuccess"}],
}


def _script(folder: Path, data: str) -> Path:
    import json

    (folder / "in.csv").write_text(data)
    doc = {
        "nodes": {
            "read": {
                "type": "file_table",
                "r": {
                    "urls": [str(folder / "in.csv")],
                    "csv": {"hdr_line_idx": 0, "first_data_line_idx": 1},
                    "columns": {
                        "col_id": {"col_type": "int", "csv": {"col_hdr": "id"}},
                        "col_name": {"col_type": "string", "csv": {"col_hdr": "name"}},
                    },
                },
                "w": {
                    "name": "items",
                    "fields": {
                        "id": {"expression": "r.col_id", "type": "int"},
                        "name": {"expression": "r.col_name", "type": "string"},
                    },
                },
            }
        },
        "dependency_policies": {"std": POLICY},
    }
    path = folder / "script.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture(scope="module")
def secret_env(live_services: None) -> Iterator[Env]:
    """Credentials with unique values: the local Cassandra allows all, so the username/password are sent but
    not needed; the broker URL carries the real local credentials, which must not show either."""
    e = Env(
        extra={
            "CAPILLARIES_CASSANDRA_USERNAME": "capi_user",
            "CAPILLARIES_CASSANDRA_PASSWORD": CASS_PASSWORD,
        }
    )
    yield e
    e.delete_queues()


def _amqp_secret() -> str:
    """The password part of the configured broker URL (e.g. guest), as it would appear in a leaked URL."""
    params = pika.URLParameters(amqp_settings().url)
    return f":{params.credentials.password}@"


def _assert_clean(texts: dict[str, str]) -> None:
    for where, text in texts.items():
        assert CASS_PASSWORD not in text, f"Cassandra password leaked into {where}"
        assert _amqp_secret() not in text, f"broker credentials leaked into {where}"


@pytest.mark.integration
def test_no_secret_in_worker_logs_cli_output_or_workflow_tables(
    secret_env: Env, session: Session, tmp_path: Path
) -> None:
    ks = f"test_rel_secret_{uuid.uuid4().hex[:10]}"
    log = tmp_path / "worker.log"
    proc = secret_env.start_worker(1, log)
    outputs: dict[str, str] = {}
    try:
        for name, data in (("good", GOOD_CSV), ("bad", BAD_CSV)):
            folder = tmp_path / name
            folder.mkdir()
            script = _script(folder, data)
            done = secret_env.cli(
                "run", "start", "--keyspace", ks, "--script", str(script), "--start-nodes", "read",
                "--wait", "--timeout", "120", timeout=180,
            )  # fmt: skip
            assert done.returncode == (0 if name == "good" else 1), done.stderr
            outputs[f"run start ({name}) output"] = done.stdout + done.stderr
        for args in (("run", "status", "--keyspace", ks), ("run", "history", "--keyspace", ks, "--format", "json")):
            done = secret_env.cli(*args, timeout=60)
            assert done.returncode == 0
            outputs[" ".join(args[:2])] = done.stdout + done.stderr
    finally:
        stop_worker(proc)
    try:
        tables = ("wf_run_properties", "wf_run_history", "wf_node_history", "wf_batch_history", "items_00001")
        for table in tables:
            outputs[table] = "\n".join(repr(r) for r in session.execute(f"SELECT * FROM {ks}.{table}"))
        assert "started by" in outputs["wf_run_history"] and "col_id" in outputs["wf_batch_history"]
    finally:
        drop_keyspace_patiently(session, ks)
    outputs["worker log"] = log.read_text()
    assert "worker consuming queue" in outputs["worker log"]
    _assert_clean(outputs)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("variables", "what", "marker"),
    [
        (
            {"CAPILLARIES_AMQP_URL": f"amqp://capi:{AMQP_PASSWORD}@127.0.0.1:1/%2F"},
            "unreachable broker",
            "RabbitMQ connection lost",
        ),
        (
            {
                "CAPILLARIES_CASSANDRA_HOSTS": "127.0.0.1",
                "CAPILLARIES_CASSANDRA_PORT": "1",
                "CAPILLARIES_CASSANDRA_USERNAME": "capi",
                "CAPILLARIES_CASSANDRA_PASSWORD": CASS_PASSWORD,
            },
            "unreachable Cassandra",
            "cannot connect to Cassandra",
        ),
    ],
    ids=["broker", "cassandra"],
)
def test_connection_errors_do_not_print_secrets(
    variables: dict[str, str], what: str, marker: str, live_services: None, session: Session, tmp_path: Path
) -> None:
    env = Env(extra=variables)
    ks = f"test_rel_secret_{uuid.uuid4().hex[:10]}"
    script = _script(tmp_path, GOOD_CSV)
    texts = {}
    try:
        done = env.cli("run", "start", "--keyspace", ks, "--script", str(script), "--start-nodes", "read", timeout=120)
        assert done.returncode != 0, f"{what}: run start succeeded"
        texts[f"run start with {what}"] = done.stdout + done.stderr
        status = env.cli("services", "status", timeout=60)
        texts[f"services status with {what}"] = status.stdout + status.stderr
        log = tmp_path / "worker.log"
        proc = env.start_worker(1, log)
        try:
            # the worker process logs its failed connection attempts (warnings) and keeps retrying
            wait_for(lambda: marker in log.read_text(), WORKER_RETRY_WATCH_S, f"{marker!r} in the worker log")
        finally:
            stop_worker(proc)
        texts[f"worker log with {what}"] = log.read_text()
    finally:
        drop_keyspace_patiently(session, ks)
    for where, text in texts.items():
        assert AMQP_PASSWORD not in text, f"broker password leaked into {where}: {text[-500:]}"
        assert CASS_PASSWORD not in text, f"Cassandra password leaked into {where}: {text[-500:]}"
