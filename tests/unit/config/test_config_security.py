"""Security settings: file roots confine every local path a script uses; Cassandra TLS is built from settings."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest

from capillaries_provider.config import cassandra_settings, file_roots
from capillaries_provider.script.errors import ScriptValidationError
from capillaries_provider.script.fetch import LocalFileFetcher
from capillaries_provider.storage.files import PathOutsideRootsError, local_path
from capillaries_provider.store.session import tls_context


def test_no_roots_means_no_restriction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAPILLARIES_FILE_ROOTS", raising=False)
    assert file_roots() == ()
    assert local_path("/etc/hostname") == "/etc/hostname"


def test_paths_must_stay_under_a_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    inside, other = tmp_path / "data", tmp_path / "data2"
    inside.mkdir()
    other.mkdir()
    monkeypatch.setenv("CAPILLARIES_FILE_ROOTS", f"{inside}:/nonexistent-root")
    assert local_path(f"{inside}/in/a.csv") == f"{inside}/in/a.csv"
    assert local_path(f"file://{inside}/b.csv") == f"{inside}/b.csv"
    for escape in (f"{inside}/../secret.csv", f"{other}/x.csv", "/etc/passwd", f"file://{inside}/../../x"):
        with pytest.raises(PathOutsideRootsError, match="outside the allowed file roots"):
            local_path(escape)
    (inside / "link").symlink_to("/etc")
    with pytest.raises(PathOutsideRootsError):
        local_path(f"{inside}/link/passwd")


def test_fetcher_reports_a_root_violation_as_a_content_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CAPILLARIES_FILE_ROOTS", str(tmp_path))
    with pytest.raises(ScriptValidationError, match="/etc/hostname is outside the allowed file roots"):
        LocalFileFetcher().read_bytes("/etc/hostname")


def test_cassandra_tls_context_from_settings(tmp_path: Path) -> None:
    assert tls_context(cassandra_settings({})) is None
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=cassandra", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    env = {
        "CAPILLARIES_CASSANDRA_TLS_CA": str(cert),
        "CAPILLARIES_CASSANDRA_TLS_CERT": str(cert),
        "CAPILLARIES_CASSANDRA_TLS_KEY": str(key),
        "CAPILLARIES_CASSANDRA_TLS_VERIFY_HOSTNAME": "false",
        "CAPILLARIES_CASSANDRA_PASSWORD": "s3cret-not-in-repr",
    }
    settings = cassandra_settings(env)
    context = tls_context(settings)
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname is False
    assert "s3cret-not-in-repr" not in repr(settings)
