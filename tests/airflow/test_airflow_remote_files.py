"""A CapillariesDag whose script, params, input and output live on S3 (the real moto server of tests/remote).

The Airflow side (DAG file parse, start_run and node tasks: this process, as `dag.test()` runs tasks in line) has
no AWS credentials in its environment: it reads S3 only through the Airflow connection `capi_s3_test`, given as
`AIRFLOW_CONN_CAPI_S3_TEST`. The `capillaries worker` subprocess is not configured by Airflow: it gets the S3
endpoint and key pair from its environment. Neither the secret nor the key id may show up in logs, XComs, rendered
fields, the metadata DB or error texts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest

from tests.conformance.harness import compare_outputs
from tests.remote.cases import S3_CASES, RemoteCase, S3Case, lookup_case
from tests.remote.conftest import (  # noqa: F401  (session fixtures, used from this folder)
    http_root,
    https_server,
    s3_server,
    sftp_server,
    test_ca,
)
from tests.remote.servers import HttpsServer, S3Server, SftpServer

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "dags" / "capillaries_examples" / "daily_sales"
BUCKET = "capi-airflow-remote"
PREFIX = "daily_sales"
CONN_ID = "capi_s3_test"
DAG_ID = "capillaries_s3_daily_sales"
LARGE_SALES = (
    "sale_id,region,amount,amount_with_tax\n"
    "1,north,250.00,300.00\n"
    "3,east,100.00,120.00\n"
    "5,north,310.40,372.48\n"
    "7,east,180.10,216.12\n"
    "8,west,100.01,120.01\n"
)
# Credentials the Airflow side must not find in its environment, so only the connection can supply them.
_AWS_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "CAPILLARIES_S3_ENDPOINT_URL",
)

DAG_FILE = """
import pendulum
from capillaries_provider import CapillariesDag

dag = CapillariesDag(
    dag_id={dag_id!r},
    script_path={script!r},
    params_path={params!r},
    keyspace={keyspace!r},
    aws_conn_id={conn_id!r},
    sftp_conn_id={sftp_conn_id!r},
    schedule=None,
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
)
"""


def _url(key: str, bucket: str = BUCKET) -> str:
    return f"s3://{bucket}/{PREFIX}/{key}"


def _aws_connection(server: S3Server, **extra: Any) -> str:
    extra = {"endpoint_url": server.endpoint_url, "region_name": server.region, **extra}
    return json.dumps({"conn_type": "aws", "login": server.key_id, "password": server.secret, "extra": extra})


@pytest.fixture(scope="module")
def airflow_side_env(s3_server: S3Server) -> Iterator[None]:  # noqa: F811
    """This process's environment: the S3 connection, no AWS credentials, no metadata service, no ~/.aws."""
    with pytest.MonkeyPatch.context() as mp:
        for name in _AWS_ENV:
            mp.delenv(name, raising=False)
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        mp.setenv("AWS_CONFIG_FILE", os.devnull)
        mp.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", _aws_connection(s3_server))
        yield


@pytest.fixture(scope="module")
def s3_files(s3_server: S3Server) -> None:  # noqa: F811
    """The daily-sales example on S3: script, params (input and output folders on S3 too) and the input CSV."""
    s3_server.make_bucket(BUCKET)
    s3_server.put(BUCKET, f"{PREFIX}/script.json", (EXAMPLE / "script.json").read_bytes())
    params = {"dir_in": f"s3://{BUCKET}/{PREFIX}/in", "dir_out": f"s3://{BUCKET}/{PREFIX}/out"}
    s3_server.put(BUCKET, f"{PREFIX}/params.json", json.dumps(params).encode())
    s3_server.upload_tree(EXAMPLE / "in", BUCKET, f"{PREFIX}/in")


@pytest.fixture(scope="module")
def s3_worker(
    connections: None,
    airflow_side_env: None,
    s3_server: S3Server,  # noqa: F811
    sftp_server: SftpServer,  # noqa: F811
    https_server: HttpsServer,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Path]:
    """`capillaries worker` on the test queue, configured by its environment as a worker host is (S3 key pair and
    endpoint, SFTP keys, the HTTPS CA folder); yields its log file."""
    queue = json.loads(os.environ["AIRFLOW_CONN_CAPILLARIES_AMQP_DEFAULT"])["extra"]["queue"]
    log = tmp_path_factory.mktemp("s3-worker") / "worker.log"
    env = {**os.environ, **s3_server.env, **sftp_server.env, "CAPILLARIES_AMQP_QUEUE": queue}
    env["CAPILLARIES_CA_PATH"] = str(https_server.ca_dir)
    env.pop("AWS_SHARED_CREDENTIALS_FILE", None)
    env.pop("AWS_CONFIG_FILE", None)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "capillaries_provider.cli.main", "worker", "--processes", "2", "--queue", queue],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            yield log
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(log.read_text()[-3000:])


def _dag_file(
    tmp_path: Path,
    script: str,
    params: str | None,
    name: str = "s3_dag.py",
    dag_id: str = DAG_ID,
    sftp_conn_id: str | None = None,
) -> Path:
    path = tmp_path / name
    text = DAG_FILE.format(
        dag_id=dag_id,
        script=script,
        params=params,
        keyspace="s3_daily_sales",
        conn_id=CONN_ID,
        sftp_conn_id=sftp_conn_id,
    )
    path.write_text(text)
    return path


def _states(dr: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}


def _assert_no_secret(server: S3Server, *texts: str, files: tuple[Path, ...] = ()) -> None:
    secrets = (server.secret, server.key_id)
    for text in texts:
        for secret in secrets:
            assert secret not in text
    for path in files:
        targets = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
        for target in targets:
            data = target.read_bytes()
            for secret in secrets:
                assert secret.encode() not in data, f"a secret is in {target}"


@pytest.mark.integration
@pytest.mark.airflow
def test_dag_built_from_an_s3_script_runs_end_to_end_with_the_connection(
    serialize_dag: Callable[[Path, str], Any],
    s3_worker: Path,
    s3_files: None,
    s3_server: S3Server,  # noqa: F811
    keyspace: str,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert "AWS_ACCESS_KEY_ID" not in os.environ and "AWS_SECRET_ACCESS_KEY" not in os.environ
    dag = serialize_dag(_dag_file(tmp_path, _url("script.json"), _url("params.json")), DAG_ID)
    assert sorted(dag.task_ids) == ["file_large_sales", "finish_run", "large_sales", "read_sales", "start_run"]
    start = dag.get_task("start_run")
    assert (start.script_path, start.aws_conn_id) == (_url("script.json"), CONN_ID)
    assert dag.get_task("large_sales").aws_conn_id == CONN_ID
    assert dag.params["params_path"] == _url("params.json")

    dr = dag.test(logical_date=pendulum.datetime(2026, 11, 1, tz="UTC"), run_conf={"keyspace": keyspace})
    assert _states(dr) == {
        "start_run": "success",
        "read_sales": "success",
        "large_sales": "success",
        "file_large_sales": "success",
        "finish_run": "success",
    }
    assert str(dr.state) == "success"
    # The CSV writer ends lines with CRLF (the local-file tests read them back with universal newlines).
    written = s3_server.get(BUCKET, f"{PREFIX}/out/large_sales_00001.csv").decode()
    assert written.replace("\r\n", "\n") == LARGE_SALES

    xcom = dr.get_task_instance("start_run").xcom_pull(task_ids="start_run")
    assert xcom["script_path"] == _url("script.json")
    out, err = capfd.readouterr()
    home = Path(os.environ["AIRFLOW_HOME"])
    # dag.test() runs tasks in this process: their logs are this process's output (and any files under logs/).
    assert f"Capillaries run {keyspace}/1: start nodes read_sales" in out + err + caplog.text
    _assert_no_secret(
        s3_server, out, err, caplog.text, json.dumps(xcom), files=(home / "logs", home / "airflow.db", s3_worker)
    )


@pytest.mark.integration
@pytest.mark.airflow
def test_object_storage_path_brings_its_connection_and_env_fills_a_missing_endpoint(
    airflow_side_env: None,
    s3_files: None,
    s3_server: S3Server,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.sdk import ObjectStoragePath

    from capillaries_provider import CapillariesDag
    from capillaries_provider.operators.script_cache import load_script_cached
    from capillaries_provider.script.errors import ScriptValidationError

    dag = CapillariesDag(
        dag_id="capillaries_s3_object_storage_path",
        script_path=ObjectStoragePath(f"s3://{CONN_ID}@{BUCKET}/{PREFIX}/script.json"),
        params_path=ObjectStoragePath(f"s3://{CONN_ID}@{BUCKET}/{PREFIX}/params.json"),
        keyspace="s3_osp",
        schedule=None,
    )
    start = dag.get_task("start_run")
    assert (start.script_path, start.params_path) == (_url("script.json"), "{{ params.params_path }}")
    assert (start.aws_conn_id, dag.get_task("read_sales").aws_conn_id) == (CONN_ID, CONN_ID)
    assert dag.params["params_path"] == _url("params.json")

    # A connection without endpoint_url: the endpoint comes from the environment, the key pair from the connection.
    monkeypatch.setenv("AIRFLOW_CONN_CAPI_S3_NO_ENDPOINT", _aws_connection(s3_server, endpoint_url=None))
    monkeypatch.setenv("CAPILLARIES_S3_ENDPOINT_URL", s3_server.endpoint_url)
    script = load_script_cached(_url("script.json"), _url("params.json"), aws_conn_id="capi_s3_no_endpoint")
    assert list(script.nodes) == ["read_sales", "large_sales", "file_large_sales"]
    # Without a connection this process has no credentials at all: the connection above was what worked.
    with pytest.raises(ScriptValidationError) as no_conn:
        load_script_cached(_url("script.json"), _url("params.json"))
    assert "no S3 credentials" in str(no_conn.value)
    _assert_no_secret(s3_server, str(no_conn.value))


@pytest.mark.integration
@pytest.mark.airflow
def test_a_missing_bucket_fails_the_parse_and_a_missing_params_file_fails_start_run_naming_the_url(
    serialize_dag: Callable[[Path, str], Any],
    connections: None,
    airflow_side_env: None,
    s3_files: None,
    s3_server: S3Server,  # noqa: F811
    keyspace: str,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    missing = _url("script.json", bucket="capi-no-such-bucket")
    bag = DagBag(dag_folder=str(_dag_file(tmp_path, missing, _url("params.json"), "missing_dag.py", "capi_missing")))
    (error,) = bag.import_errors.values()
    assert missing in error and "not found" in error
    _assert_no_secret(s3_server, error)

    dag = serialize_dag(_dag_file(tmp_path, _url("script.json"), _url("params.json")), DAG_ID)
    missing_params = _url("no-such-params.json")
    dr = dag.test(
        logical_date=pendulum.datetime(2026, 11, 2, tz="UTC"),
        run_conf={"keyspace": keyspace, "params_path": missing_params},
    )
    assert str(dr.state) == "failed"
    assert _states(dr)["start_run"] == "failed"
    out, err = capfd.readouterr()
    home = Path(os.environ["AIRFLOW_HOME"])
    logs = "\n".join(p.read_text(errors="replace") for p in (home / "logs").rglob("*") if p.is_file())
    assert f"{missing_params}: cannot read: not found" in out + err + caplog.text + logs
    _assert_no_secret(s3_server, out, err, caplog.text, logs, files=(home / "airflow.db",))


def test_connection_fields_map_to_remote_settings_and_errors_never_show_a_value(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from capillaries_provider.hooks.storage_connections import StorageConnectionError, remote_settings

    for name in _AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CAPILLARIES_SFTP_PRIVATE_KEYS", raising=False)
    secret, pem = (
        "s3cr3t-value-for-test",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nfake-key-body\n-----END OPENSSH PRIVATE KEY-----",
    )
    conns = {
        "AWS_SVC": {
            "conn_type": "aws",
            "login": "AKIDTEST",
            "password": secret,
            "extra": {"service_config": {"s3": {"endpoint_url": "http://127.0.0.1:9"}}, "region_name": "eu-west-1"},
        },
        "AWS_HALF": {"conn_type": "aws", "password": secret},
        "AWS_TOKEN": {
            "conn_type": "aws",
            "login": "AKIDTEST",
            "password": secret,
            "extra": {"aws_session_token": secret},
        },
        "SFTP_PEM": {"conn_type": "sftp", "host": "h", "login": "bob", "extra": {"private_key": pem}},
        "SFTP_FILE": {"conn_type": "sftp", "host": "h", "login": "eve", "extra": {"key_file": str(tmp_path / "k")}},
        "SFTP_PASSWORD": {"conn_type": "sftp", "host": "h", "login": "bob", "password": secret},
    }
    for conn_id, conn in conns.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id}", json.dumps(conn))

    s = remote_settings("aws_svc", "sftp_pem")
    assert (s.s3_key_id, s.s3_secret, s.s3_endpoint_url, s.s3_region) == (
        "AKIDTEST",
        secret,
        "http://127.0.0.1:9",
        "eu-west-1",
    )
    assert secret not in repr(s)
    key_file = Path(s.sftp_private_keys["bob"])
    assert key_file.read_text().strip() == pem and key_file.stat().st_mode & 0o777 == 0o600
    assert key_file.parent.stat().st_mode & 0o777 == 0o700
    assert remote_settings(sftp_conn_id="sftp_pem").sftp_private_keys == {"bob": str(key_file)}  # written once
    assert remote_settings(sftp_conn_id="sftp_file").sftp_private_keys == {"eve": str(tmp_path / "k")}
    for conn_id, field in (
        ("aws_half", "login"),
        ("aws_token", "aws_session_token"),
        ("sftp_password", "key_file or private_key"),
        ("missing_conn", "not defined"),
    ):
        with pytest.raises(StorageConnectionError) as e:
            remote_settings(**{("sftp_conn_id" if "sftp" in conn_id else "aws_conn_id"): conn_id})
        assert field in str(e.value) and conn_id in str(e.value) and secret not in str(e.value)


@pytest.mark.integration
def test_a_remote_load_is_kept_for_the_ttl_then_read_again(
    airflow_side_env: None,
    s3_server: S3Server,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from capillaries_provider.operators import script_cache
    from capillaries_provider.script.errors import ScriptValidationError

    s3_server.make_bucket("capi-airflow-ttl")
    s3_server.put("capi-airflow-ttl", "s/script.json", (EXAMPLE / "script.json").read_bytes())
    s3_server.put("capi-airflow-ttl", "s/params.json", json.dumps({"dir_in": "/in", "dir_out": "/out"}).encode())
    url, params = "s3://capi-airflow-ttl/s/script.json", "s3://capi-airflow-ttl/s/params.json"
    first = script_cache.load_script_cached(url, params, aws_conn_id=CONN_ID)
    s3_server.client().delete_object(Bucket="capi-airflow-ttl", Key="s/script.json")
    assert script_cache.load_script_cached(url, params, aws_conn_id=CONN_ID) is first  # within the TTL
    monkeypatch.setattr(script_cache, "REMOTE_TTL_S", 0.0)
    with pytest.raises(ScriptValidationError, match="s3://capi-airflow-ttl/s/script.json: cannot read: not found"):
        script_cache.load_script_cached(url, params, aws_conn_id=CONN_ID)


@pytest.mark.integration
@pytest.mark.airflow
def test_an_sftp_connection_with_private_key_text_reads_an_object_storage_path(
    sftp_server: SftpServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.sdk import ObjectStoragePath

    from capillaries_provider import CapillariesDag

    monkeypatch.delenv("CAPILLARIES_SFTP_PRIVATE_KEYS", raising=False)
    conn = {
        "conn_type": "sftp",
        "host": sftp_server.host,
        "port": sftp_server.port,
        "login": sftp_server.user,
        "extra": {"private_key": sftp_server.key_file.read_text()},
    }
    monkeypatch.setenv("AIRFLOW_CONN_CAPI_SFTP_TEST", json.dumps(conn))
    folder = sftp_server.root / "airflow_daily_sales"
    folder.mkdir(exist_ok=True)
    (folder / "script.json").write_bytes((EXAMPLE / "script.json").read_bytes())
    (folder / "params.json").write_text(json.dumps({"dir_in": "/in", "dir_out": "/out"}))

    dag = CapillariesDag(
        dag_id="capillaries_sftp_object_storage_path",
        script_path=ObjectStoragePath(f"sftp://capi_sftp_test@{folder}/script.json"),
        params_path=ObjectStoragePath(f"sftp://capi_sftp_test@{folder}/params.json"),
        keyspace="sftp_osp",
        schedule=None,
    )
    start = dag.get_task("start_run")
    assert start.script_path == sftp_server.url(folder / "script.json")
    assert (start.sftp_conn_id, start.aws_conn_id) == ("capi_sftp_test", None)
    assert dag.params["params_path"] == sftp_server.url(folder / "params.json")
    assert sorted(dag.task_ids) == ["file_large_sales", "finish_run", "large_sales", "read_sales", "start_run"]


def _run_case(
    serialize_dag: Callable[[Path, str], Any], case: RemoteCase, keyspace: str, tmp_path: Path, sftp_conn_id: str | None
) -> None:
    """One DAG run per run of the variant, each with its start nodes, all in `keyspace`; every one must succeed."""
    dag_id = f"capillaries_remote_{case.variant.case}_{case.variant.name}"
    dag_file = _dag_file(tmp_path, case.script, case.params, f"{dag_id}.py", dag_id, sftp_conn_id)
    dag = serialize_dag(dag_file, dag_id)
    assert dag.get_task("start_run").script_path == case.script
    for run in case.runs:
        day = pendulum.datetime(2026, 11, run["run_id"], tz="UTC")
        dr = dag.test(
            logical_date=day, run_after=day, run_conf={"keyspace": keyspace, "start_nodes": run["start_nodes"]}
        )
        failed = {t: st for t, st in _states(dr).items() if st not in ("success", "skipped")}
        assert (str(dr.state), failed) == ("success", {}), f"{case.variant.id} run {run['run_id']}"


@pytest.mark.integration
@pytest.mark.airflow
@pytest.mark.parametrize(("case", "name"), S3_CASES, ids=[f"{c}/{n}" for c, n in S3_CASES])
def test_golden_case_on_s3_through_airflow_with_the_aws_connection(
    case: str,
    name: str,
    serialize_dag: Callable[[Path, str], Any],
    s3_worker: Path,
    s3_files: None,
    s3_server: S3Server,  # noqa: F811
    keyspace: str,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Script, params, inputs and outputs on S3; this process reads them only through `capi_s3_test`."""
    on_s3 = S3Case(case, name, tmp_path / "case", s3_server, BUCKET)
    _run_case(serialize_dag, on_s3.case, keyspace, tmp_path, sftp_conn_id=None)
    on_s3.download_outputs()
    assert compare_outputs(on_s3.case.outputs, on_s3.case.staging) == []
    out, err = capfd.readouterr()
    _assert_no_secret(s3_server, out, err, caplog.text, files=(Path(os.environ["AIRFLOW_HOME"]) / "airflow.db",))


@pytest.mark.integration
@pytest.mark.airflow
def test_lookup_through_airflow_reads_its_script_with_the_sftp_connection_inputs_over_https_outputs_over_sftp(
    serialize_dag: Callable[[Path, str], Any],
    s3_worker: Path,
    https_server: HttpsServer,  # noqa: F811
    sftp_server: SftpServer,  # noqa: F811
    keyspace: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CAPILLARIES_SFTP_PRIVATE_KEYS", raising=False)  # this process has only the connection
    conn = {
        "conn_type": "sftp",
        "host": sftp_server.host,
        "port": sftp_server.port,
        "login": sftp_server.user,
        "extra": {"private_key": sftp_server.key_file.read_text()},
    }
    monkeypatch.setenv("AIRFLOW_CONN_CAPI_SFTP_CONF", json.dumps(conn))
    case = lookup_case(tmp_path / "case", https_server, sftp_server, cfg_over="sftp")
    assert case.script.startswith("sftp://")
    _run_case(serialize_dag, case, keyspace, tmp_path, sftp_conn_id="capi_sftp_conf")
    assert compare_outputs(case.outputs, case.staging) == []
    assert [p.name for p in case.staging.roots["out"].rglob(".*.tmp")] == []
