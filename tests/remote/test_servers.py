"""Each loopback server works with a plain client, so remote-file tests that fail point at the provider, not the rig."""

from __future__ import annotations

import http.client
import json
import os
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import paramiko
import pytest
from botocore.config import Config

from tests.remote.servers import HttpFileServer, HttpsServer, S3Server, SftpServer

DATA = bytes(range(256)) * 40  # 10240 bytes, every offset distinguishable modulo 256


def _opener(context: ssl.SSLContext | None = None) -> urllib.request.OpenerDirector:
    """urllib without environment proxies: the tests talk to 127.0.0.1 only."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))


def _get(url: str, context: ssl.SSLContext | None = None, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    with _opener(context).open(request, timeout=5) as response:
        return response.status, dict(response.headers), response.read()


@pytest.fixture(scope="module")
def served_file(http_root: Path) -> str:
    (http_root / "data").mkdir(exist_ok=True)
    (http_root / "data" / "blob.bin").write_bytes(DATA)
    (http_root / "data" / "forbidden.csv").write_text("a,b\n")
    return "data/blob.bin"


# --------------------------------------------------------------------------------------------------------------- S3


def test_s3_round_trip_with_the_fixture_env(s3_server: S3Server, tmp_path: Path) -> None:
    env = s3_server.env
    assert env["CAPILLARIES_S3_ENDPOINT_URL"] == s3_server.endpoint_url == f"http://127.0.0.1:{s3_server.port}"
    assert env["AWS_EC2_METADATA_DISABLED"] == "true" and env["AWS_SECRET_ACCESS_KEY"] == s3_server.secret
    s3_server.make_bucket("round-trip")
    s3_server.put("round-trip", "in/a.csv", b"id,name\n1,x\n")
    plain = boto3.client(
        "s3",
        endpoint_url=env["CAPILLARIES_S3_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
        config=Config(proxies={}),
    )
    assert plain.get_object(Bucket="round-trip", Key="in/a.csv")["Body"].read() == b"id,name\n1,x\n"
    ranged = plain.get_object(Bucket="round-trip", Key="in/a.csv", Range="bytes=3-6")
    assert ranged["Body"].read() == b"name" and ranged["ContentRange"] == "bytes 3-6/12"
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.txt").write_bytes(b"b")
    (tmp_path / "sub" / "c.txt").write_bytes(b"c")
    assert s3_server.upload_tree(tmp_path, "round-trip", "tree/") == ["tree/b.txt", "tree/sub/c.txt"]
    assert s3_server.list_keys("round-trip", "tree/") == ["tree/b.txt", "tree/sub/c.txt"]
    assert s3_server.get("round-trip", "tree/sub/c.txt") == b"c"
    assert s3_server.secret not in repr(s3_server)


def test_s3_pause_keeps_data_and_restart_loses_it(s3_server: S3Server) -> None:
    s3_server.make_bucket("faults")
    s3_server.put("faults", "k", b"kept")
    s3_server.pause()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", s3_server.port, timeout=0.5)
        with pytest.raises(TimeoutError):
            conn.request("GET", "/faults/k")
            conn.getresponse()
        conn.close()
    finally:
        s3_server.resume()
    assert s3_server.get("faults", "k") == b"kept"
    s3_server.restart()
    assert "faults" not in [b["Name"] for b in s3_server.client().list_buckets()["Buckets"]]


# ------------------------------------------------------------------------------------------------------ HTTP(S)


def test_https_get_head_and_ranges(https_server: HttpsServer, served_file: str) -> None:
    context = ssl.create_default_context(cafile=str(https_server.ca_file))
    url = https_server.url(served_file)
    assert url.startswith("https://127.0.0.1:")
    status, headers, body = _get(url, context)
    assert (status, headers["Content-Length"], body) == (200, str(len(DATA)), DATA)
    for spec, start, end in (("bytes=10-19", 10, 19), ("bytes=10230-", 10230, 10239), ("bytes=-5", 10235, 10239)):
        status, headers, body = _get(url, context, Range=spec)
        assert (status, headers["Content-Range"], body) == (
            206,
            f"bytes {start}-{end}/{len(DATA)}",
            DATA[start : end + 1],
        )
    head = urllib.request.Request(url, method="HEAD")
    with _opener(context).open(head, timeout=5) as response:
        assert (response.status, response.headers["Content-Length"], response.read()) == (200, str(len(DATA)), b"")
    for path, code in (("data/missing.bin", 404), ("data/forbidden.csv", 403), ("../../etc/passwd", 404)):
        with pytest.raises(urllib.error.HTTPError) as err:
            _get(https_server.url(path), context)
        assert err.value.code == code
    with pytest.raises(urllib.error.HTTPError) as err:
        _get(url, context, Range="bytes=20000-")
    assert err.value.code == 416 and err.value.headers["Content-Range"] == f"bytes */{len(DATA)}"


def test_ca_dir_holds_only_the_ca_and_trusts_the_server(https_server: HttpsServer, served_file: str) -> None:
    files = list(https_server.ca_dir.iterdir())
    assert [f.read_bytes() for f in files] == [https_server.ca_file.read_bytes()]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    for pem in files:  # Go reads every file of `ca_path`; OpenSSL's capath would want hash-named links instead
        context.load_verify_locations(cafile=str(pem))
    assert _get(https_server.url(served_file), context)[2] == DATA


def test_untrusted_server_fails_verification(
    https_server: HttpsServer, untrusted_https_server: HttpsServer, served_file: str
) -> None:
    context = ssl.create_default_context(cafile=str(https_server.ca_file))
    with pytest.raises(urllib.error.URLError) as err:
        _get(untrusted_https_server.url(served_file), context)
    assert isinstance(err.value.reason, ssl.SSLCertVerificationError)
    own = ssl.create_default_context(cafile=str(untrusted_https_server.ca_file))
    assert _get(untrusted_https_server.url(served_file), own)[2] == DATA  # the same root, once trusted


def test_fail_next_then_serves(https_server: HttpsServer, http_server: HttpFileServer, served_file: str) -> None:
    context = ssl.create_default_context(cafile=str(https_server.ca_file))
    https_server.fail_next(served_file, 503, times=2)
    for _ in range(2):
        with pytest.raises(urllib.error.HTTPError) as err:
            _get(https_server.url(served_file), context)
        assert err.value.code == 503
    assert _get(https_server.url(served_file), context)[0] == 200
    assert https_server.requests[-3:] == [("GET", "/" + served_file, None)] * 3
    assert http_server.base_url.startswith("http://127.0.0.1:")
    status, _, body = _get(http_server.url(served_file))
    assert (status, body) == (200, DATA)
    assert b'href="/data/blob.bin"' in _get(http_server.url("data/"))[2]


# --------------------------------------------------------------------------------------------------------------- SFTP


def test_sftp_key_reads_and_no_key_is_refused(sftp_server: SftpServer) -> None:
    (sftp_server.root / "in").mkdir(exist_ok=True)
    (sftp_server.root / "in" / "a.csv").write_bytes(b"id\n1\n")
    assert sftp_server.url("in/a.csv") == (
        f"sftp://{sftp_server.user}@127.0.0.1:{sftp_server.port}{sftp_server.root}/in/a.csv"
    )
    assert json.loads(sftp_server.env["CAPILLARIES_SFTP_PRIVATE_KEYS"]) == {sftp_server.user: str(sftp_server.key_file)}
    paramiko.PKey.from_path(sftp_server.key_file)  # paramiko 3.2+ loads the ed25519 OpenSSH key
    with sftp_server.sftp() as sftp:
        assert sftp.listdir(str(sftp_server.root / "in")) == ["a.csv"]
        with sftp.open(str(sftp_server.root / "in" / "a.csv")) as remote:
            assert remote.read() == b"id\n1\n"
    with pytest.raises(paramiko.BadAuthenticationType) as bad:
        sftp_server.ssh_client(password="secret")
    assert bad.value.allowed_types == ["publickey"]
    with pytest.raises(paramiko.AuthenticationException):
        sftp_server.ssh_client(key_file=sftp_server.other_key_file)
    assert os.path.isabs(sftp_server.key_file)
