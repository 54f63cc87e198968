"""Golden cases with their scripts, inputs and outputs on remote storage, through the real CLI and workers.

portfolio (one), fannie_mae (one, Parquet in and out) and tag_and_denormalize (fs_one) live wholly on S3;
lookup (one) reads script and inputs over HTTPS (trusting the fixture's CA) and writes its outputs over SFTP.
Workers here are their own group on their own queue, configured only by environment, like Go daemons. The tests
also check that no secret reaches a message, a run property, a batch comment or a log line, that a failed batch
leaves no object behind, that `validate --check-urls` finds missing inputs, and that a stalled S3 server during a
run costs time, not correctness.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cassandra.cluster import Session

from capillaries_provider.config import cassandra_settings
from capillaries_provider.services import cassandra, rabbitmq
from capillaries_provider.store.session import close, connect
from tests.conformance.harness import RUN_TIMEOUT_S, compare_outputs
from tests.remote.cases import S3_CASES, RemoteCase, S3Case, lookup_case
from tests.remote.servers import HttpsServer, S3Server, SftpServer
from tests.remote.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.integration]

QUEUE = f"capillaries_remote_tests_{uuid.uuid4().hex[:6]}"  # per session: no leftover worker takes its batches
BUCKET = "capi-remote-runs"


@pytest.fixture(scope="module")
def s3_proxy(s3_server: S3Server) -> Iterator[TcpProxy]:
    """The S3 endpoint the workers and the CLI use: the real server behind a proxy that can 'restart' it."""
    proxy = TcpProxy(s3_server.port)
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def remote_env(
    s3_server: S3Server, s3_proxy: TcpProxy, sftp_server: SftpServer, https_server: HttpsServer
) -> dict[str, str]:
    """What a worker host and the CLI need: S3 by the AWS chain + endpoint, SFTP keys, the CA folder, the queue."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(s3_server.env)
    env["CAPILLARIES_S3_ENDPOINT_URL"] = s3_proxy.url
    env.update(sftp_server.env)
    env["CAPILLARIES_CA_PATH"] = str(https_server.ca_dir)
    env["CAPILLARIES_AMQP_QUEUE"] = QUEUE
    env["CAPILLARIES_REMOTE_TIMEOUT_S"] = "2"
    env["CAPILLARIES_REMOTE_ATTEMPTS"] = "8"  # back-off up to 31.5 s in all: outlasts the 6 s restart below
    # inputs are streamed in many ranged reads: with 256 KiB blocks CI read the whole input before the restart cut S3
    env["CAPILLARIES_REMOTE_BLOCK_BYTES"] = str(64 << 10)
    return env


@pytest.fixture(scope="module")
def worker_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("remote-workers") / "worker.log"


@pytest.fixture(scope="module")
def remote_workers(remote_env: dict[str, str], worker_log: Path, s3_server: S3Server) -> Iterator[None]:
    cassandra.up()
    rabbitmq.up()
    if BUCKET not in {b["Name"] for b in s3_server.client().list_buckets()["Buckets"]}:
        s3_server.make_bucket(BUCKET)
    with worker_log.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "capillaries_provider.cli.main", "worker", "--processes", "2"],
            env=remote_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    yield
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    s = connect(cassandra_settings())
    yield s
    close(s)


def cli(env: dict[str, str], *args: str, timeout: float = RUN_TIMEOUT_S + 60) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "capillaries_provider.cli.main", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, env=env)


def _run(env: dict[str, str], case: RemoteCase) -> str:
    keyspace = f"remote_{case.variant.case[:16]}_{uuid.uuid4().hex[:8]}".lower()
    for run in case.runs:
        done = cli(
            env,
            *("run", "start", "--keyspace", keyspace, "--script", case.script),
            *(("--params", case.params) if case.params else ()),
            *("--start-nodes", ",".join(run["start_nodes"]), "--wait", "--timeout", str(RUN_TIMEOUT_S)),
        )
        assert done.returncode == 0, f"{case.variant.id}: {done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return keyspace


def _history_text(session: Session, keyspace: str) -> str:
    rows = [
        *session.execute(f"SELECT comment FROM {keyspace}.wf_batch_history"),
        *session.execute(f"SELECT comment FROM {keyspace}.wf_node_history"),
        *session.execute(f"SELECT comment FROM {keyspace}.wf_run_history"),
        *session.execute(f"SELECT * FROM {keyspace}.wf_run_properties"),
    ]
    return "\n".join(repr(tuple(r)) for r in rows)


def _assert_no_secret(text: str, s3_server: S3Server) -> None:
    assert s3_server.secret not in text
    assert s3_server.key_id not in text


@pytest.mark.parametrize(("case", "name"), S3_CASES, ids=[f"{c}/{n}" for c, n in S3_CASES])
def test_case_on_s3_gives_the_golden_outputs(
    case: str,
    name: str,
    tmp_path: Path,
    s3_server: S3Server,
    remote_env: dict[str, str],
    remote_workers: None,
    worker_log: Path,
    session: Session,
) -> None:
    on_s3 = S3Case(case, name, tmp_path, s3_server, BUCKET)
    keyspace = _run(remote_env, on_s3.case)
    try:
        on_s3.download_outputs()
        assert compare_outputs(on_s3.case.outputs, on_s3.case.staging) == []
        _assert_no_secret(_history_text(session, keyspace) + worker_log.read_text(errors="replace"), s3_server)
    finally:
        cli(remote_env, "keyspace", "drop", keyspace, timeout=300)


def test_lookup_reads_over_https_and_writes_over_sftp(
    tmp_path: Path,
    https_server: HttpsServer,
    sftp_server: SftpServer,
    remote_env: dict[str, str],
    remote_workers: None,
) -> None:
    case = lookup_case(tmp_path, https_server, sftp_server)
    keyspace = _run(remote_env, case)
    try:
        assert compare_outputs(case.outputs, case.staging) == []
        assert [p.name for p in case.staging.roots["out"].rglob(".*.tmp")] == []
    finally:
        cli(remote_env, "keyspace", "drop", keyspace, timeout=300)


def _small_case(tmp_path: Path, s3_server: S3Server, base: str, rows: int, bad_row: int | None = None) -> str:
    """A read -> write script on S3 whose writer fails on `bad_row` (a division by zero), if given."""
    lines = ["id,amount"] + [f"{i},{0 if i == bad_row else 10}" for i in range(rows)]
    s3_server.put(BUCKET, f"{base}/in/data.csv", ("\n".join(lines) + "\n").encode())
    script = {
        "nodes": {
            "read": {
                "type": "file_table",
                "r": {
                    "urls": [f"s3://{BUCKET}/{base}/in/data.csv"],
                    "csv": {"hdr_line_idx": 0, "first_data_line_idx": 1},
                    "columns": {
                        "col_id": {"col_type": "int", "csv": {"col_hdr": "id"}},
                        "col_amount": {"col_type": "int", "csv": {"col_hdr": "amount"}},
                    },
                },
                "w": {
                    "name": "items",
                    "fields": {
                        "id": {"expression": "r.col_id", "type": "int"},
                        "amount": {"expression": "r.col_amount", "type": "int"},
                    },
                },
            },
            "write": {
                "type": "table_file",
                "r": {"table": "items"},
                "w": {
                    "url_template": f"s3://{BUCKET}/{base}/out/items.csv",
                    "columns": [
                        {"name": "id", "expression": "r.id", "type": "int", "csv": {"header": "id", "format": "%d"}},
                        {
                            "name": "ratio",
                            "expression": "100 / r.amount",
                            "type": "int",
                            "csv": {"header": "ratio", "format": "%d"},
                        },
                    ],
                },
            },
        },
        "dependency_policies": _default_policy(),
    }
    s3_server.put(BUCKET, f"{base}/script.json", json.dumps(script).encode())
    return f"s3://{BUCKET}/{base}/script.json"


def _default_policy() -> dict:  # type: ignore[type-arg]
    path = Path(__file__).parents[1] / "reliability" / "corpus" / "run_huge_field" / "script.json"
    policies: dict = json.loads(path.read_text())["dependency_policies"]  # type: ignore[type-arg]
    return policies


def _start(env: dict[str, str], keyspace: str, script: str, wait_s: int = 300) -> subprocess.CompletedProcess[str]:
    args = ("run", "start", "--keyspace", keyspace, "--script", script, "--start-nodes", "read")
    return cli(env, *args, "--wait", "--timeout", str(wait_s), timeout=wait_s + 60)


def test_failed_batches_leave_no_object_and_name_the_url_without_secrets(
    tmp_path: Path,
    s3_server: S3Server,
    remote_env: dict[str, str],
    remote_workers: None,
    worker_log: Path,
    session: Session,
) -> None:
    base = f"fail-{uuid.uuid4().hex[:8]}"
    script = _small_case(tmp_path, s3_server, base, rows=50, bad_row=7)
    keyspace = f"remote_fail_{uuid.uuid4().hex[:8]}"
    try:
        done = _start(remote_env, keyspace, script)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "failed node(s): write" in done.stderr and "integer divide by zero" in done.stderr
        assert s3_server.list_keys(BUCKET, f"{base}/out/") == []
        assert s3_server.client().list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
        s3_server.client().delete_object(Bucket=BUCKET, Key=f"{base}/in/data.csv")
        missing = _start(remote_env, keyspace, script)
        assert missing.returncode == 1
        assert f"s3://{BUCKET}/{base}/in/data.csv: cannot open: not found (404)" in missing.stderr
        _assert_no_secret(done.stderr + missing.stderr + _history_text(session, keyspace), s3_server)
        _assert_no_secret(worker_log.read_text(errors="replace"), s3_server)
    finally:
        cli(remote_env, "keyspace", "drop", keyspace, timeout=300)


def test_validate_rejects_unknown_schemes_and_check_urls_finds_missing_inputs(
    tmp_path: Path, s3_server: S3Server, remote_env: dict[str, str]
) -> None:
    if BUCKET not in {b["Name"] for b in s3_server.client().list_buckets()["Buckets"]}:
        s3_server.make_bucket(BUCKET)
    base = f"check-{uuid.uuid4().hex[:8]}"
    script = _small_case(tmp_path, s3_server, base, rows=3)
    assert cli(remote_env, "validate", script, "--check-urls", timeout=120).returncode == 0
    s3_server.client().delete_object(Bucket=BUCKET, Key=f"{base}/in/data.csv")
    plain = cli(remote_env, "validate", script, timeout=120)
    assert plain.returncode == 0, plain.stderr  # plain validate does not touch inputs
    checked = cli(remote_env, "validate", script, "--check-urls", timeout=120)
    assert checked.returncode == 1
    assert checked.stderr == f"{script}: node read: r.urls[0]: s3://{BUCKET}/{base}/in/data.csv: no such file\n"
    local = tmp_path / "ftp.json"
    text = s3_server.get(BUCKET, f"{base}/script.json").decode().replace(f"s3://{BUCKET}/{base}/out/", "ftp://host/")
    local.write_text(text)
    bad = cli(remote_env, "validate", str(local), timeout=120)
    assert bad.returncode == 1
    assert f"{local}: node write: w.url_template: unsupported URL scheme 'ftp'" in bad.stderr


def test_an_s3_restart_during_a_run_costs_time_not_correctness(
    tmp_path: Path,
    s3_server: S3Server,
    s3_proxy: TcpProxy,
    remote_env: dict[str, str],
    remote_workers: None,
    worker_log: Path,
) -> None:
    """S3 'restarts' as soon as the reader's first ranged GET of its input is served: every connection is reset
    and new ones are refused for 6 s (a proxy in front of the server, which keeps the data, as a real store
    would). The reader's next requests are retried with back-off, the stream resumes at its offset, and the
    output is complete and exact."""
    base = f"restart-{uuid.uuid4().hex[:8]}"
    rows = 100_000
    script = _small_case(tmp_path, s3_server, base, rows=rows)
    keyspace = f"remote_restart_{uuid.uuid4().hex[:8]}"
    seen = len(worker_log.read_text(errors="replace"))
    first_get = f"GET /{BUCKET}/{base}/in/data.csv"
    args = ["run", "start", "--keyspace", keyspace, "--script", script, "--start-nodes", "read", "--wait"]
    cmd = [sys.executable, "-m", "capillaries_provider.cli.main", *args, "--timeout", "300"]
    proc = subprocess.Popen(cmd, env=remote_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while first_get not in s3_server.log_file.read_text(errors="replace"):
            assert time.monotonic() < deadline and proc.poll() is None, "the reader never requested its input"
            time.sleep(0.05)
        s3_proxy.cut()
        time.sleep(6)  # longer than the reader takes to need its next block
        s3_proxy.restore()
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, out + err
        lines = s3_server.get(BUCKET, f"{base}/out/items.csv").decode().splitlines()
        assert lines[0] == "id,ratio"
        assert sorted(lines[1:]) == sorted(f"{i},10" for i in range(rows))
        log = worker_log.read_text(errors="replace")[seen:]
        assert f"s3://{BUCKET}/{base}/in/data.csv: cannot read at byte" in log  # the restart was met...
        assert "attempt 2 of 8" in log  # ...and the read was retried at its offset
    finally:
        if s3_proxy._listener is None:
            s3_proxy.restore()
        proc.kill()
        proc.wait()
        cli(remote_env, "keyspace", "drop", keyspace, timeout=300)
