"""The I/O edge for remote files: open for streaming, read whole, check existence, upload atomically.

Every operation runs under one retry policy: timeouts, 5xx answers and dropped connections are retried with
exponential back-off (`attempts` in all), anything else (404, 403, unknown host, untrusted certificate, failed
authentication) fails at once. Failures surface as `RemoteFileError` with the redacted URL and the cause, scrubbed
of every configured secret. A streamed input resumes at its byte offset after a dropped connection, so a long read
is not restarted; only one read-ahead block of it is held in memory.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path
from typing import IO, Any, TypeVar

from capillaries_provider.storage.errors import RemoteFileError
from capillaries_provider.storage.settings import RemoteSettings
from capillaries_provider.storage.urls import RemoteUrl, redact

log = logging.getLogger(__name__)
T = TypeVar("T")
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 8.0
_READ_BUFFER = 1 << 20
UPLOAD_MIN_BYTES_PER_S = 1 << 20  # slower than this, an upload counts as stalled


def _status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "status", None) or getattr(exc, "code", None)
    response = getattr(exc, "response", None)
    if status is None and isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None


def classify(exc: BaseException) -> tuple[bool, str]:
    """(transient, cause): whether retrying may help, and what went wrong in words an operator acts on."""
    import aiohttp
    import botocore.exceptions as boto
    import paramiko

    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    for e in chain:
        if isinstance(e, ssl.SSLCertVerificationError | aiohttp.ClientConnectorCertificateError):
            return False, f"TLS certificate not trusted ({getattr(e, 'verify_message', '') or e})"
        if isinstance(e, socket.gaierror | aiohttp.ClientConnectorDNSError):
            return False, "unknown host"
        if isinstance(e, paramiko.AuthenticationException):
            return False, f"authentication failed ({e})"
        if isinstance(e, boto.NoCredentialsError | boto.PartialCredentialsError):
            return False, "no S3 credentials (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws or a connection)"
    # An HTTP status anywhere in the chain is the most precise cause: fsspec turns any failed HEAD into
    # FileNotFoundError, with the response error as its cause.
    for e in chain:
        status = _status_of(e)
        if status is not None and status >= 500:
            return True, f"server error {status}"
        if status in (403, 401):
            return False, f"access denied ({status})"
        if status == 404:
            return False, "not found (404)"
        if status is not None and status >= 400:
            return False, f"refused by the server ({status})"
    for e in chain:
        if isinstance(e, FileNotFoundError):
            return False, "not found (404)"
        if isinstance(e, PermissionError):
            return False, "access denied (403)"
        if isinstance(e, IsADirectoryError | NotADirectoryError):
            return False, "is a directory, not a file"
    for e in chain:
        if isinstance(e, TimeoutError | boto.ReadTimeoutError | boto.ConnectTimeoutError):
            return True, "timed out"
        if isinstance(
            e,
            ConnectionError
            | aiohttp.ClientConnectionError
            | aiohttp.ClientPayloadError
            | boto.EndpointConnectionError
            | boto.ConnectionClosedError
            | paramiko.SSHException
            | EOFError,
        ):
            return True, f"connection problem ({type(e).__name__}: {e})"
        if isinstance(e, boto.ClientError):
            code = e.response.get("Error", {}).get("Code", "")
            if code in ("SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout"):
                return True, f"server error {code}"
            return False, f"refused by S3 ({code or e})"
    return False, f"{type(exc).__name__}: {exc}"


class RemoteStorage:
    """fsspec filesystems for one process, built from `RemoteSettings` on first use and rebuilt after a failure."""

    def __init__(self, settings: RemoteSettings | None = None) -> None:
        self.settings = settings or RemoteSettings.from_env()
        self._filesystems: dict[tuple[object, ...], Any] = {}
        self._pid = os.getpid()

    # -- filesystems --------------------------------------------------------------------------------------------

    def _fs_key(self, u: RemoteUrl) -> tuple[object, ...]:
        return ("s3",) if u.scheme == "s3" else ("http",) if u.scheme in ("http", "https") else (u.host, u.port, u.user)

    def _filesystem(self, u: RemoteUrl) -> Any:
        if os.getpid() != self._pid:  # connections and event loops do not survive a fork
            self._filesystems.clear()
            self._pid = os.getpid()
        key = self._fs_key(u)
        fs = self._filesystems.get(key)
        if fs is None:
            fs = self._filesystems[key] = self._make_filesystem(u)
        return fs

    def _make_filesystem(self, u: RemoteUrl) -> Any:
        s = self.settings
        if u.scheme == "s3":
            import s3fs

            client: dict[str, Any] = {"region_name": s.s3_region} if s.s3_region else {}
            s3 = s3fs.S3FileSystem(
                key=s.s3_key_id,
                secret=s.s3_secret,
                endpoint_url=s.s3_endpoint_url,
                client_kwargs=client,
                config_kwargs={
                    "connect_timeout": s.timeout_s,
                    "read_timeout": s.timeout_s,
                    "retries": {"mode": "standard", "max_attempts": 1},  # total attempts: ours are the retries
                },
                default_block_size=s.block_bytes,
                skip_instance_cache=True,
                use_listings_cache=False,
            )
            s3.retries = 1  # one retry policy, ours, with its back-off and its log lines
            return s3
        if u.scheme in ("http", "https"):
            import aiohttp
            from fsspec.implementations.http import HTTPFileSystem

            timeout = aiohttp.ClientTimeout(total=None, sock_connect=s.timeout_s, sock_read=s.timeout_s)
            return HTTPFileSystem(
                get_client=partial(_http_client, self.settings.ca_path),
                client_kwargs={"timeout": timeout},
                block_size=s.block_bytes,
                skip_instance_cache=True,
            )
        from fsspec.implementations.sftp import SFTPFileSystem

        key_file = s.sftp_private_keys.get(u.user)
        if not key_file:
            raise RemoteFileError(
                f"no private key for SFTP user {u.user!r}: set CAPILLARIES_SFTP_PRIVATE_KEYS "
                f'(a JSON object {{"{u.user}": "/path/to/key"}})',
                transient=False,
            )
        fs = SFTPFileSystem(
            u.host,
            port=u.port,
            username=u.user,
            key_filename=key_file,
            look_for_keys=False,
            allow_agent=False,
            timeout=s.timeout_s,
            banner_timeout=s.timeout_s,
            auth_timeout=s.timeout_s,
            skip_instance_cache=True,
        )
        fs.ftp.get_channel().settimeout(s.timeout_s)  # a stalled server fails reads instead of hanging them
        return fs

    # -- the retry policy ---------------------------------------------------------------------------------------

    def _scrub(self, text: str, url: str) -> str:
        text = text.replace(url, redact(url))
        for secret in self.settings.secrets():
            text = text.replace(secret, "***")
        return text

    def _attempt(self, url: str, what: str, op: Callable[[RemoteUrl, Any], T]) -> T:
        """Run `op(parsed_url, filesystem)` under the retry policy."""
        try:
            u = RemoteUrl.parse(url)
        except ValueError as e:
            raise RemoteFileError(str(e), transient=False) from None
        attempts = self.settings.attempts
        for attempt in range(1, attempts + 1):
            try:
                return op(u, self._filesystem(u))
            except RemoteFileError:
                raise
            except Exception as exc:
                transient, cause = classify(exc)
                cause = self._scrub(cause, url)
                if transient:
                    self._filesystems.pop(self._fs_key(u), None)  # a fresh connection for the next attempt
                if not transient or attempt == attempts:
                    tries = f" after {attempts} attempts" if transient else ""
                    raise RemoteFileError(
                        f"{redact(url)}: cannot {what}{tries}: {cause}", transient=transient
                    ) from None
                delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (attempt - 1))
                log.warning(
                    "%s: cannot %s (%s); attempt %d of %d in %.1f s",
                    redact(url),
                    what,
                    cause,
                    attempt + 1,
                    attempts,
                    delay,
                )
                time.sleep(delay)
        raise AssertionError("unreachable")

    # -- operations ---------------------------------------------------------------------------------------------

    def read_bytes(self, url: str, limit: int) -> bytes:
        """The whole content, at most `limit + 1` bytes (the caller tells a too-large file by the length)."""

        def read(u: RemoteUrl, fs: Any) -> bytes:
            with fs.open(u.path, "rb") as f:
                data: bytes = f.read(limit + 1)
            return data

        return self._attempt(url, "read", read)

    def exists(self, url: str) -> bool:
        """True when the file exists; False for 404; other problems raise RemoteFileError."""

        def info(u: RemoteUrl, fs: Any) -> bool:
            try:
                fs.info(u.path)
            except FileNotFoundError:
                return False
            return True

        return self._attempt(url, "check", info)

    @contextmanager
    def open_input(self, url: str) -> Iterator[IO[bytes]]:
        """A buffered, seekable binary stream over the remote file that resumes after a dropped connection."""
        raw = _ResumingReader(self, url)
        stream = io.BufferedReader(raw, min(_READ_BUFFER, self.settings.block_bytes))
        try:
            yield stream
        finally:
            stream.close()

    def upload(self, local: Path, url: str) -> None:
        """Put a complete local file at `url` atomically: S3 objects appear only when complete (a multipart
        upload is aborted on failure); SFTP writes a temporary name in the target folder, then renames it."""

        def put(u: RemoteUrl, fs: Any) -> None:
            if u.scheme == "s3":
                # Sending has no socket timeout of its own: bound the whole upload (a stalled one is cancelled,
                # which aborts its multipart upload).
                budget = self.settings.timeout_s + local.stat().st_size / UPLOAD_MIN_BYTES_PER_S
                fs.put_file(str(local), u.path, timeout=budget)
                return
            folder, name = os.path.split(u.path)
            tmp = f"{folder}/.{name}.{os.getpid()}.tmp"
            fs.makedirs(folder, exist_ok=True)
            try:
                fs.put_file(str(local), tmp)
                fs.mv(tmp, u.path)  # OpenSSH's posix-rename: replaces an existing file in one step
            except BaseException:
                with suppress(OSError):
                    fs.ftp.remove(tmp)
                raise

        self._attempt(url, "write", put)

    def _open(self, u: RemoteUrl, fs: Any) -> tuple[Any, int]:
        """An open remote file and its size (one attempt; callers run it under `_attempt`)."""
        if u.scheme == "sftp":
            f = fs.open(u.path)
            return f, int(f.stat().st_size)
        f = fs.open(u.path, "rb", block_size=self.settings.block_bytes)
        return f, int(f.size)


async def _http_client(ca_path: str | None, **kwargs: Any) -> Any:
    """An aiohttp session that trusts `ca_path` (a PEM file or a folder of them) instead of the system roots."""
    import aiohttp

    if not ca_path:
        return aiohttp.ClientSession(**kwargs)
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ca_context(ca_path)), **kwargs)


def ca_context(ca_path: str) -> ssl.SSLContext:
    """A TLS context trusting the PEM file at `ca_path`, or every `*.pem`/`*.crt` file in that folder (Go's
    `ca_path` is a folder of PEM files, without the hashed names OpenSSL's `capath` wants)."""
    if not os.path.isdir(ca_path):
        return ssl.create_default_context(cafile=ca_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    files = sorted(p for p in Path(ca_path).iterdir() if p.suffix in (".pem", ".crt") and p.is_file())
    if not files:
        raise RemoteFileError(f"CAPILLARIES_CA_PATH {ca_path}: no .pem or .crt files in that folder", transient=False)
    for p in files:
        ctx.load_verify_locations(cafile=str(p))
    return ctx


_shared: RemoteStorage | None = None


def shared_storage() -> RemoteStorage:
    """The process's storage, configured from the environment (workers, CLI)."""
    global _shared
    if _shared is None:
        _shared = RemoteStorage()
    return _shared


class _ResumingReader(io.RawIOBase):
    """Reads a remote file sequentially or by seeking; a failed read reopens the file at the same offset, under
    the storage's retry policy."""

    def __init__(self, storage: RemoteStorage, url: str) -> None:
        super().__init__()
        self._storage, self._url = storage, url
        self._pos = 0
        self._file, self._size = storage._attempt(url, "open", storage._open)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        if self._file is not None:
            self._file.seek(self._pos)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), max(0, self._size - self._pos))
        if want == 0:
            return 0

        def read(u: RemoteUrl, fs: Any) -> int:
            if self._file is None:
                self._file, _ = self._storage._open(u, fs)
                self._file.seek(self._pos)
            try:
                data = self._file.read(want)
            except BaseException:
                self._drop()  # the next attempt reopens at the same offset
                raise
            view[: len(data)] = data
            self._pos += len(data)
            return len(data)

        return self._storage._attempt(self._url, f"read at byte {self._pos:,}", read)

    def _drop(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except Exception:  # a broken connection may fail to close; the next read reopens
                log.debug("closing %s failed", redact(self._url), exc_info=True)
            self._file = None

    def close(self) -> None:
        self._drop()
        super().close()
