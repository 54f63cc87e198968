"""Session-scoped real servers on 127.0.0.1 for remote-file tests: S3 (moto), HTTP(S) with a test CA, SFTP (sshd)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.remote.servers import (
    CertFiles,
    HttpFileServer,
    HttpsServer,
    S3Server,
    SftpServer,
    make_ca,
    make_self_signed_cert,
    make_server_cert,
    pem_only_dir,
)

# boto3 in this process must never ask the EC2 metadata service for credentials or a region.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server; `restart()` loses every bucket, `pause()`/`resume()` keep them."""
    server = S3Server(tmp_path_factory.mktemp("s3-server"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    """The CA that issues the HTTPS server's certificate (`ca_dir` holds only its PEM)."""
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="session")
def http_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory every HTTP(S) server fixture serves."""
    return tmp_path_factory.mktemp("http-root")


@pytest.fixture(scope="session")
def https_server(
    tmp_path_factory: pytest.TempPathFactory, test_ca: CertFiles, http_root: Path
) -> Iterator[HttpsServer]:
    cert = make_server_cert(test_ca, tmp_path_factory.mktemp("https-cert"))
    server = HttpsServer(
        http_root, cert, ca_file=test_ca.cert, ca_dir=pem_only_dir(test_ca.cert, tmp_path_factory.mktemp("ca-dir"))
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def untrusted_https_server(tmp_path_factory: pytest.TempPathFactory, http_root: Path) -> Iterator[HttpsServer]:
    """Same root, self-signed certificate; its `ca_file` is that certificate, not the test CA."""
    directory = tmp_path_factory.mktemp("untrusted-cert")
    cert = make_self_signed_cert(directory)
    server = HttpsServer(
        http_root, cert, ca_file=cert.cert, ca_dir=pem_only_dir(cert.cert, tmp_path_factory.mktemp("untrusted-ca-dir"))
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def http_server(http_root: Path) -> Iterator[HttpFileServer]:
    server = HttpFileServer(http_root)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SftpServer]:
    """sshd with key-only auth (installs openssh-server if missing); put files under `root`."""
    server = SftpServer(tmp_path_factory.mktemp("sftp-server"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
