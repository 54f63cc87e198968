"""Real servers on 127.0.0.1 for remote-file tests: moto's S3 server, HTTP(S) file servers with their own CA, sshd.

Nothing here listens on or connects to anything but loopback; processes that may load botocore get
AWS_EC2_METADATA_DISABLED=true and explicit endpoint and credentials, so none looks for the EC2 metadata service.
"""

from __future__ import annotations

import ctypes
import datetime
import getpass
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import boto3
import paramiko
from botocore.config import Config
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from capillaries_provider.services.process import ServiceError, apt_install, log_tail, pid_alive, port_open

LOOPBACK = "127.0.0.1"
SSHD = Path("/usr/sbin/sshd")
PRIVSEP_DIR = Path("/run/sshd")


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_for(ready: Callable[[], bool], *, alive: Callable[[], bool], what: str, log: Path, timeout: float) -> None:
    """Poll `ready` every 50 ms; fail fast with the log tail if the process dies, or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if not alive():
            raise ServiceError(f"{what} exited during start-up; last lines of {log}:\n{log_tail(log)}")
        time.sleep(0.05)
    raise ServiceError(f"{what} not ready after {timeout:.0f} s; last lines of {log}:\n{log_tail(log)}")


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it if the test process dies, so no server outlives a killed pytest."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _spawn(cmd: list[str], log: IO[bytes], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, preexec_fn=_die_with_parent
    )


def _stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """Terminate `proc` (waking it first if it was paused), then kill it if it does not exit in time."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGCONT)
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


# --------------------------------------------------------------------------------------------------------------- S3


@dataclass
class S3Server:
    """moto's standalone S3 server on 127.0.0.1:`port`; `env` is what a client process needs to reach it."""

    log_dir: Path
    port: int = field(default_factory=free_port)
    key_id: str = field(default_factory=lambda: f"testing-key-id-{secrets.token_hex(4)}")
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    region: str = "us-east-1"
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "moto_server.log"

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_EC2_METADATA_DISABLED": "true",
            "CAPILLARIES_S3_ENDPOINT_URL": self.endpoint_url,
        }

    def _command(self) -> list[str]:
        script = Path(sys.executable).parent / "moto_server"
        head = [str(script)] if script.exists() else [sys.executable, "-m", "moto.server"]
        return [*head, "-H", LOOPBACK, "-p", str(self.port)]

    def _answers(self) -> bool:
        conn = HTTPConnection(LOOPBACK, self.port, timeout=1)
        try:
            conn.request("GET", "/")
            conn.getresponse().read()
            return True
        except OSError:
            return False
        finally:
            conn.close()

    def start(self, timeout: float = 30.0) -> None:
        """Start moto_server and wait until it answers HTTP."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_file.open("ab")
        env = {**os.environ, **self.env}
        self._proc = _spawn(self._command(), self._log, env)
        proc = self._proc
        wait_for(
            self._answers, alive=lambda: proc.poll() is None, what="moto_server", log=self.log_file, timeout=timeout
        )

    def stop(self) -> None:
        _stop_process(self._proc)
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        """Stop and start again on the same port. moto keeps everything in memory: every bucket is lost."""
        self.stop()
        self.start()

    def pause(self) -> None:
        """SIGSTOP the server: connections are still accepted by the kernel but never answered; data is kept."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after `pause`; queued requests are then answered."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGCONT)

    def client(self) -> Any:
        """A boto3 S3 client with explicit endpoint, credentials and region, and no proxies from the environment."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.key_id,
            aws_secret_access_key=self.secret,
            region_name=self.region,
            config=Config(proxies={}, retries={"max_attempts": 2}, connect_timeout=5, read_timeout=30),
        )

    def make_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.client().put_object(Bucket=bucket, Key=key, Body=data)

    def get(self, bucket: str, key: str) -> bytes:
        return bytes(self.client().get_object(Bucket=bucket, Key=key)["Body"].read())

    def list_keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def upload_tree(self, local_dir: Path, bucket: str, prefix: str) -> list[str]:
        """Upload every file under `local_dir` to `prefix`/<relative path>; returns the keys written."""
        client = self.client()
        keys: list[str] = []
        for path in sorted(p for p in Path(local_dir).rglob("*") if p.is_file()):
            key = "/".join(part for part in (prefix.strip("/"), path.relative_to(local_dir).as_posix()) if part)
            client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
            keys.append(key)
        return keys


# ------------------------------------------------------------------------------------------------------ TLS material


@dataclass(frozen=True)
class CertFiles:
    """PEM files of one certificate and its private key."""

    cert: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.chmod(0o600)


def _server_extensions(builder: x509.CertificateBuilder, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK)), x509.DNSName("localhost")])
    return (
        builder.add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def _builder(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
    )


def make_ca(directory: Path, common_name: str = "capillaries test CA") -> CertFiles:
    """A fresh CA (EC P-256) written as `ca.pem` and `ca.key` in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        _builder(_name(common_name), _name(common_name), key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    files = CertFiles(directory / "ca.pem", directory / "ca.key")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, files.key)
    return files


def make_server_cert(ca: CertFiles, directory: Path, name: str = "server") -> CertFiles:
    """A server certificate for IP 127.0.0.1 and DNS localhost, signed by `ca`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    ca_key = serialization.load_pem_private_key(ca.key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        _server_extensions(_builder(_name("localhost"), ca_cert.subject, key), key)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = CertFiles(directory / f"{name}.pem", directory / f"{name}.key")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, files.key)
    return files


def make_self_signed_cert(directory: Path, name: str = "untrusted") -> CertFiles:
    """A self-signed certificate for 127.0.0.1/localhost that no test CA vouches for."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _server_extensions(_builder(_name("localhost"), _name("localhost"), key), key).sign(key, hashes.SHA256())
    files = CertFiles(directory / f"{name}.pem", directory / f"{name}.key")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, files.key)
    return files


def pem_only_dir(cert: Path, directory: Path) -> Path:
    """`directory` holding only a copy of `cert` (like Go's `ca_path`: every file in it is a trusted PEM)."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cert, directory / cert.name)
    return directory


# ------------------------------------------------------------------------------------------------------ HTTP(S)

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class _Faults:
    """Per-path pending failures: path -> [status, remaining count]; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, list[int]] = {}

    def add(self, path: str, status: int, times: int) -> None:
        with self._lock:
            self._pending[path] = [status, times]

    def take(self, path: str) -> int | None:
        with self._lock:
            entry = self._pending.get(path)
            if entry is None:
                return None
            entry[1] -= 1
            if entry[1] <= 0:
                del self._pending[path]
            return entry[0]

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()


class _FileHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, faults: _Faults) -> None:
        self.root = root.resolve()
        self.faults = faults
        self.requests: list[tuple[str, str, str | None]] = []
        self.requests_lock = threading.Lock()
        super().__init__((LOOPBACK, 0), _FileHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: clients that abort the TLS handshake (the untrusted-CA tests) are expected here."""


class _FileHandler(BaseHTTPRequestHandler):
    """GET/HEAD of files under the server's root with single byte ranges; 403 for names with `forbidden`."""

    server: _FileHTTPServer
    protocol_version = "HTTP/1.1"
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def _simple(self, status: int, text: str, body: bool, headers: dict[str, str] | None = None) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _serve(self, body: bool) -> None:
        url_path = urllib.parse.urlsplit(self.path).path
        with self.server.requests_lock:
            self.server.requests.append((self.command, url_path, self.headers.get("Range")))
        fault = self.server.faults.take(url_path)
        if fault is not None:
            self._simple(fault, f"injected fault {fault}\n", body)
            return
        rel = urllib.parse.unquote(url_path).lstrip("/")
        target = (self.server.root / rel).resolve()
        if not target.is_relative_to(self.server.root) or not target.exists():
            self._simple(404, "not found\n", body)
            return
        if "forbidden" in target.name:
            self._simple(403, "forbidden\n", body)
            return
        if target.is_dir():
            self._listing(target, url_path, body)
            return
        self._file(target, body)

    def _listing(self, directory: Path, url_path: str, body: bool) -> None:
        """A bare HTML index (fsspec's HTTP `ls` reads the links)."""
        base = url_path if url_path.endswith("/") else url_path + "/"
        links = "".join(
            f'<a href="{base}{urllib.parse.quote(p.name)}{"/" if p.is_dir() else ""}">{p.name}</a>\n'
            for p in sorted(directory.iterdir())
        )
        data = f"<html><body>\n{links}</body></html>\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _file(self, target: Path, body: bool) -> None:
        size = target.stat().st_size
        start, end = 0, size - 1
        status = 200
        spec = self.headers.get("Range")
        match = _RANGE.match(spec.strip()) if spec else None  # multi-range and other units: the whole file (RFC 9110)
        if match and (match[1] or match[2]):
            if match[1]:
                start = int(match[1])
                end = min(int(match[2]), size - 1) if match[2] else size - 1
            else:
                start, end = max(size - int(match[2]), 0), size - 1
            if start >= size or start > end or (not match[1] and int(match[2]) == 0):
                self._simple(416, "range not satisfiable\n", body, {"Content-Range": f"bytes */{size}"})
                return
            status = 206
        length = max(end - start + 1, 0)
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Last-Modified", self.date_time_string(int(target.stat().st_mtime)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if body and length:
            with target.open("rb") as src:
                src.seek(start)
                self.wfile.write(src.read(length))


class HttpFileServer:
    """A threaded HTTP file server over `root` on 127.0.0.1 (TLS when `cert` is given), in a daemon thread."""

    scheme = "http"

    def __init__(self, root: Path, cert: CertFiles | None = None) -> None:
        self.root = root
        self._faults = _Faults()
        self._httpd = _FileHTTPServer(root, self._faults)
        if cert is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert.cert, cert.key)
            # The handshake then happens in the handler thread, so a stalled client cannot block accept().
            self._httpd.socket = context.wrap_socket(
                self._httpd.socket, server_side=True, do_handshake_on_connect=False
            )
            self.scheme = "https"
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, name=f"{self.scheme}-files", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{LOOPBACK}:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def fail_next(self, path: str, status: int = 503, times: int = 1) -> None:
        """Answer the next `times` requests (GET or HEAD) of URL path `path` with `status`, then serve normally."""
        self._faults.add("/" + path.lstrip("/"), status, times)

    def clear_faults(self) -> None:
        self._faults.clear()

    @property
    def requests(self) -> list[tuple[str, str, str | None]]:
        """(method, URL path, Range header) of every request so far, oldest first."""
        with self._httpd.requests_lock:
            return list(self._httpd.requests)

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


class HttpsServer(HttpFileServer):
    """HTTPS file server; `ca_file` (and the one-file directory `ca_dir`) is what a client must trust to reach it."""

    def __init__(self, root: Path, cert: CertFiles, ca_file: Path, ca_dir: Path) -> None:
        super().__init__(root, cert)
        self.ca_file = ca_file
        self.ca_dir = ca_dir

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts only `ca_file`."""
        return ssl.create_default_context(cafile=str(self.ca_file))


# ------------------------------------------------------------------------------------------------------ SFTP


def ensure_sshd() -> Path:
    """/usr/sbin/sshd, installing openssh-server if it is missing, and the privilege separation directory."""
    if not SSHD.exists():
        apt_install("openssh-server")
    if not SSHD.exists():
        raise ServiceError(f"openssh-server is installed but {SSHD} is missing")
    try:
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    except OSError as exc:
        raise ServiceError(f"sshd needs its privilege separation directory {PRIVSEP_DIR}: {exc}") from exc
    return SSHD


def _keygen(path: Path, comment: str) -> None:
    cmd = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ServiceError(f"`{' '.join(cmd)}` failed: {done.stderr.strip()}")


class SftpServer:
    """sshd on 127.0.0.1:`port` with only public-key auth and internal-sftp; files for tests go under `root`."""

    host = LOOPBACK

    def __init__(self, base: Path) -> None:
        self.base = base
        self.base.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.user = getpass.getuser()
        self.root = base / "root"
        self.root.mkdir(exist_ok=True)
        self.host_key_file = base / "ssh_host_ed25519_key"
        self.key_file = base / "client_ed25519"
        self.other_key_file = base / "stranger_ed25519"
        self.authorized_keys = base / "authorized_keys"
        self.known_hosts = base / "known_hosts"
        self.config_file = base / "sshd_config"
        self.log_file = base / "sshd.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {"CAPILLARIES_SFTP_PRIVATE_KEYS": json.dumps({self.user: str(self.key_file)})}

    def url(self, path: str | Path) -> str:
        """sftp://user@127.0.0.1:PORT/<absolute path>; a relative `path` is taken under `root`."""
        full = Path(path) if Path(path).is_absolute() else self.root / path
        return f"sftp://{self.user}@{self.host}:{self.port}{full.as_posix()}"

    def _write_files(self) -> None:
        for key, comment in ((self.host_key_file, "host"), (self.key_file, "client"), (self.other_key_file, "other")):
            if not key.exists():
                _keygen(key, f"capillaries-test-{comment}")
        self.authorized_keys.write_text(self.key_file.with_suffix(".pub").read_text())
        host_pub = " ".join(self.host_key_file.with_suffix(".pub").read_text().split()[:2])
        self.known_hosts.write_text(f"[{self.host}]:{self.port} {host_pub}\n")
        self.config_file.write_text(
            "\n".join(
                [
                    f"ListenAddress {self.host}",
                    f"Port {self.port}",
                    f"HostKey {self.host_key_file}",
                    f"PidFile {self.base / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.authorized_keys}",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    "UsePAM no",
                    "StrictModes no",
                    "PermitRootLogin prohibit-password",
                    "UseDNS no",
                    "PrintMotd no",
                    "MaxStartups 100",
                    "MaxSessions 100",
                    "LogLevel VERBOSE",
                    "Subsystem sftp internal-sftp",
                    "",
                ]
            )
        )

    def start(self, timeout: float = 30.0) -> None:
        """Start `sshd -D -e` and wait until an SFTP session with the client key works."""
        sshd = ensure_sshd()
        self._write_files()
        check = subprocess.run([str(sshd), "-t", "-f", str(self.config_file)], capture_output=True, text=True)
        if check.returncode != 0:
            raise ServiceError(f"sshd rejects {self.config_file}: {check.stderr.strip()}")
        self._log = self.log_file.open("ab")
        cmd = [str(sshd), "-D", "-e", "-f", str(self.config_file)]
        self._proc = _spawn(cmd, self._log)
        proc = self._proc
        alive = lambda: proc.poll() is None  # noqa: E731
        wait_for(
            lambda: port_open(self.host, self.port, 0.2), alive=alive, what="sshd", log=self.log_file, timeout=timeout
        )
        wait_for(self._sftp_works, alive=alive, what="sshd (sftp)", log=self.log_file, timeout=timeout)

    def _sftp_works(self) -> bool:
        try:
            with self.sftp() as sftp:
                sftp.listdir(str(self.root))
            return True
        except (OSError, paramiko.SSHException):
            return False

    def ssh_client(self, key_file: Path | None = None, **kwargs: Any) -> paramiko.SSHClient:
        """A connected paramiko client that checks the host key against `known_hosts` and uses only `key_file`."""
        client = paramiko.SSHClient()
        client.load_host_keys(str(self.known_hosts))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        options: dict[str, Any] = {"look_for_keys": False, "allow_agent": False, "timeout": 10, "banner_timeout": 10}
        if "password" not in kwargs:
            options["key_filename"] = str(key_file or self.key_file)
        try:
            client.connect(self.host, self.port, username=self.user, **{**options, **kwargs})
        except BaseException:
            client.close()
            raise
        return client

    @contextmanager
    def sftp(self, key_file: Path | None = None) -> Iterator[paramiko.SFTPClient]:
        client = self.ssh_client(key_file)
        try:
            yield client.open_sftp()
        finally:
            client.close()

    def stop(self) -> None:
        _stop_process(self._proc)
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None and pid_alive(self._proc.pid)
