"""Pure parts of remote storage: URL forms, redaction, scheme checks, settings from the environment, and how
failures are classified (retry or fail at once) with the words an operator sees."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import aiohttp
import botocore.exceptions as boto
import paramiko
import pytest

from capillaries_provider.script.errors import ScriptFetchError, ScriptValidationError
from capillaries_provider.script.fetch import SchemeFetcher
from capillaries_provider.script.loader import load_script
from capillaries_provider.storage.errors import RemoteFileError
from capillaries_provider.storage.remote import classify
from capillaries_provider.storage.settings import RemoteSettings
from capillaries_provider.storage.urls import READ_SCHEMES, WRITE_SCHEMES, RemoteUrl, redact, scheme_problem


def test_go_url_forms_parse() -> None:
    assert RemoteUrl.parse("s3://bucket/a/b.csv") == RemoteUrl("s3", "bucket", None, "", "bucket/a/b.csv")
    assert RemoteUrl.parse("sftp://etl@files:2222/srv/in.csv") == RemoteUrl("sftp", "files", 2222, "etl", "/srv/in.csv")
    assert RemoteUrl.parse("sftp://etl@files/srv/in.csv").port == 22
    assert RemoteUrl.parse("https://h:8443/x.csv").path == "https://h:8443/x.csv"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://bucket", "s3://bucket: no object key (expected s3://bucket/key)"),
        ("s3:///key", "s3:///key: no host (expected s3://bucket/key)"),
        ("sftp://files/srv/in.csv", "sftp://files/srv/in.csv: expected sftp://user@host[:port]/path"),
    ],
)
def test_malformed_remote_urls_say_the_expected_form(url: str, message: str) -> None:
    with pytest.raises(ValueError) as e:
        RemoteUrl.parse(url)
    assert str(e.value) == message


def test_redaction_drops_passwords_and_query_strings() -> None:
    assert redact("sftp://etl:hunter2@files/srv/x.csv") == "sftp://etl@files/srv/x.csv"
    assert redact("https://h/x.csv?X-Amz-Signature=abc") == "https://h/x.csv?…"
    assert redact("s3://bucket/key.csv") == "s3://bucket/key.csv"
    assert redact("/local/path.csv") == "/local/path.csv"


def test_scheme_problems_list_what_is_supported() -> None:
    assert scheme_problem("s3://b/k", WRITE_SCHEMES) is None
    assert scheme_problem("https://h/k", WRITE_SCHEMES) == (
        "unsupported URL scheme 'https' in https://h/k; supported: file://, s3://, sftp://, or a local path"
    )
    assert scheme_problem("https://h/k", READ_SCHEMES) is None
    assert "unsupported URL scheme 'gs'" in (scheme_problem("gs://b/k", READ_SCHEMES) or "")


def test_settings_from_env() -> None:
    s = RemoteSettings.from_env(
        {
            "CAPILLARIES_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
            "CAPILLARIES_CA_PATH": "/etc/ca",
            "CAPILLARIES_SFTP_PRIVATE_KEYS": '{"etl": "/keys/etl"}',
            "CAPILLARIES_REMOTE_ATTEMPTS": "0",
        }
    )
    assert (s.s3_endpoint_url, s.ca_path, dict(s.sftp_private_keys), s.attempts) == (
        "http://127.0.0.1:9000",
        "/etc/ca",
        {"etl": "/keys/etl"},
        1,
    )
    with pytest.raises(ValueError, match="CAPILLARIES_SFTP_PRIVATE_KEYS is not a JSON object"):
        RemoteSettings.from_env({"CAPILLARIES_SFTP_PRIVATE_KEYS": "etl=/keys/etl"})
    with pytest.raises(ValueError, match="must map user names to key files"):
        RemoteSettings.from_env({"CAPILLARIES_SFTP_PRIVATE_KEYS": '["etl"]'})


def test_secrets_stay_out_of_repr() -> None:
    text = repr(RemoteSettings(s3_key_id="AKIDEXAMPLE", s3_secret="wJalrXUtnFEMI"))
    assert "AKIDEXAMPLE" not in text and "wJalrXUtnFEMI" not in text


def _status_error(status: int) -> BaseException:
    return aiohttp.ClientResponseError(None, (), status=status)  # type: ignore[arg-type]


def _with_cause(outer: BaseException, cause: BaseException) -> BaseException:
    outer.__cause__ = cause
    return outer


@pytest.mark.parametrize(
    ("exc", "transient", "cause"),
    [
        (socket.gaierror(-2, "Name or service not known"), False, "unknown host"),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), False, "TLS certificate not trusted"),
        (paramiko.AuthenticationException("Authentication failed."), False, "authentication failed"),
        (FileNotFoundError("k"), False, "not found (404)"),
        (PermissionError("k"), False, "access denied (403)"),
        (_with_cause(FileNotFoundError("u"), _status_error(503)), True, "server error 503"),
        (_with_cause(FileNotFoundError("u"), _status_error(403)), False, "access denied (403)"),
        (ConnectionResetError(104, "Connection reset by peer"), True, "connection problem"),
        (TimeoutError(), True, "timed out"),
        (boto.ReadTimeoutError(endpoint_url="http://h"), True, "timed out"),
        (boto.NoCredentialsError(), False, "no S3 credentials"),
        (ValueError("odd"), False, "ValueError: odd"),
    ],
)
def test_failures_are_classified_for_retry(exc: BaseException, transient: bool, cause: str) -> None:
    got_transient, got_cause = classify(exc)
    assert got_transient is transient
    assert got_cause.startswith(cause)


def test_validate_names_the_node_and_key_of_an_unknown_scheme(tmp_path: Path) -> None:
    script = tmp_path / "s.json"
    script.write_text(
        '{"nodes": {"read": {"type": "file_table", "r": {"urls": ["gs://b/in.csv"], "csv": {}, "columns": '
        '{"col_a": {"col_type": "int", "csv": {"col_idx": 0}}}}, "w": {"name": "t", "fields": {"a": '
        '{"expression": "r.col_a", "type": "int"}}}}}}'
    )
    with pytest.raises(ScriptValidationError) as e:
        load_script(str(script))
    assert f"{script}: node read: r.urls[0]: unsupported URL scheme 'gs' in gs://b/in.csv" in str(e.value)


class _Refusing:
    """A storage that fails every read the way the real one does (permanent or transient)."""

    def __init__(self, transient: bool) -> None:
        self.transient = transient

    def read_bytes(self, url: str, limit: int) -> bytes:
        raise RemoteFileError(f"{redact(url)}: cannot read: boom", transient=self.transient)


def test_remote_fetch_errors_name_the_file_once_and_say_whether_to_retry() -> None:
    permanent = SchemeFetcher(storage=_Refusing(False))  # type: ignore[arg-type]
    with pytest.raises(ScriptValidationError) as e:
        permanent.read_bytes("sftp://etl:pw@h/x.json")
    assert str(e.value) == "script has 1 error:\n- sftp://etl@h/x.json: cannot read: boom"
    with pytest.raises(ScriptFetchError, match="cannot read: boom"):
        SchemeFetcher(storage=_Refusing(True)).read_bytes("s3://b/x.json")  # type: ignore[arg-type]
