"""Remote-file credentials for the Airflow side, from Airflow connections: `aws` for `s3://`, `sftp` for `sftp://`.

`CapillariesDag(aws_conn_id=..., sftp_conn_id=...)` reads the script, its params and everything loaded while the
DAG is built (dag-processor) or a run is started (start_run and node tasks) through a `SchemeFetcher` over a
`RemoteStorage` whose `RemoteSettings` come from these connections. Anything a connection leaves out falls back to
the environment, as the workers read it (`RemoteSettings.from_env`: `CAPILLARIES_S3_ENDPOINT_URL`,
`CAPILLARIES_CA_PATH`, `CAPILLARIES_SFTP_PRIVATE_KEYS`, `AWS_*` / `~/.aws` through the AWS SDK chain).

Fields follow the Amazon and SFTP providers' conventions:

- `aws` connection: login = access key id, password = secret access key (both empty: the SDK chain); extras
  `endpoint_url` (or `service_config.s3.endpoint_url`) for S3-compatible stores and `region_name`.
  `aws_session_token` and role assumption are not supported (the storage layer takes a key pair only).
- `sftp` connection: host, port, login; extra `key_file` (a path) or `private_key` (PEM text, written to a 0600
  file in a 0700 folder of the user, `$TMPDIR/capillaries-sftp-keys-<uid>/`, once per connection and key). The
  key is used for the connection's login user in every `sftp://login@host/...` URL; host and port build the URL of an `ObjectStoragePath("sftp://conn_id@/path")`.
  Password authentication and `private_key_passphrase` are not supported.

Workers are NOT configured by Airflow: `capillaries worker` processes read the same kinds of settings from their
own environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`, `CAPILLARIES_S3_ENDPOINT_URL`,
`CAPILLARIES_SFTP_PRIVATE_KEYS`, `CAPILLARIES_CA_PATH`), and must be able to read every URL the run uses.

Secrets never reach a message: connection errors name the connection id and the field, never its value; storage
errors are scrubbed of the key pair (`RemoteSettings.secrets`); the settings keep secrets out of `repr`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import stat
import tempfile
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from capillaries_provider.storage.settings import RemoteSettings
from capillaries_provider.storage.urls import SFTP_DEFAULT_PORT

if TYPE_CHECKING:
    from capillaries_provider.script.fetch import Fetcher

_KEY_LOCK = threading.Lock()


class StorageConnectionError(ValueError):
    """A storage connection is missing or unusable; the message names the connection and field, never a value."""


def _extra(conn: Any) -> dict[str, Any]:
    try:
        extra = conn.extra_dejson if conn.extra else {}
    except Exception:  # malformed extra JSON: never echo it (it may hold a key)
        raise StorageConnectionError(f"connection {conn.conn_id!r}: extra is not a JSON object") from None
    return dict(extra) if isinstance(extra, Mapping) else {}


def get_connection(conn_id: str) -> Any:
    """The connection through the Task SDK: env `AIRFLOW_CONN_<ID>`, secrets backends, or the API server."""
    from airflow.sdk import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except Exception as e:
        raise StorageConnectionError(f"storage connection {conn_id!r} is not defined ({type(e).__name__})") from None


def s3_settings_from_connection(conn: Any, base: RemoteSettings) -> RemoteSettings:
    """`base` with the S3 key pair, endpoint and region of an `aws` connection (missing values keep `base`'s)."""
    extra = _extra(conn)
    if extra.get("aws_session_token") or extra.get("role_arn"):
        raise StorageConnectionError(
            f"aws connection {conn.conn_id!r}: aws_session_token/role_arn are not supported; "
            "give an access key id (login) and secret (password)"
        )
    key_id = conn.login or extra.get("aws_access_key_id") or None
    secret = conn.password or extra.get("aws_secret_access_key") or None
    if bool(key_id) != bool(secret):
        missing = "password (secret access key)" if key_id else "login (access key id)"
        raise StorageConnectionError(f"aws connection {conn.conn_id!r}: has no {missing}")
    service = extra.get("service_config")
    s3_config = service.get("s3") if isinstance(service, Mapping) else None
    endpoint = (s3_config.get("endpoint_url") if isinstance(s3_config, Mapping) else None) or extra.get("endpoint_url")
    region = extra.get("region_name")
    return dataclasses.replace(
        base,
        s3_key_id=key_id or base.s3_key_id,
        s3_secret=secret or base.s3_secret,
        s3_endpoint_url=str(endpoint) if endpoint else base.s3_endpoint_url,
        s3_region=str(region) if region else base.s3_region,
    )


def _key_folder() -> str:
    """A 0700 folder of this user for key files, refused if someone else could read or replace it."""
    folder = os.path.join(tempfile.gettempdir(), f"capillaries-sftp-keys-{os.getuid()}")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise StorageConnectionError(f"{folder} must be a directory of this user with mode 0700 (it holds SFTP keys)")
    return folder


def private_key_file(conn_id: str, pem: str) -> str:
    """A 0600 file holding `pem`, in a 0700 folder of this user; one file per connection and key.

    The name is a hash of both, so every process (the dag-processor parses each file in a new one) finds the file
    written before instead of writing another; a changed key gets a new file.
    """
    text = pem if pem.endswith("\n") else pem + "\n"
    digest = hashlib.sha256(f"{conn_id}\0{text}".encode()).hexdigest()[:32]
    with _KEY_LOCK:
        folder = _key_folder()
        path = os.path.join(folder, f"{digest}.key")
        try:
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077:
                return path
        except FileNotFoundError:
            pass
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".key-")  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return path


def sftp_settings_from_connection(conn: Any, base: RemoteSettings) -> RemoteSettings:
    """`base` with the private key of an `sftp` connection for its login user."""
    extra = _extra(conn)
    if not conn.login:
        raise StorageConnectionError(f"sftp connection {conn.conn_id!r}: has no login (the SFTP user)")
    if extra.get("private_key_passphrase"):
        raise StorageConnectionError(
            f"sftp connection {conn.conn_id!r}: private_key_passphrase is not supported; use an unencrypted key"
        )
    key_file = extra.get("key_file")
    pem = extra.get("private_key")
    if pem:
        path = private_key_file(conn.conn_id, str(pem))
    elif key_file:
        path = os.path.expanduser(str(key_file))
    elif conn.login in base.sftp_private_keys:
        return base
    else:
        raise StorageConnectionError(
            f"sftp connection {conn.conn_id!r}: needs extra key_file or private_key (password login is not supported)"
        )
    return dataclasses.replace(base, sftp_private_keys={**base.sftp_private_keys, str(conn.login): path})


def remote_settings(
    aws_conn_id: str | None = None, sftp_conn_id: str | None = None, env: Mapping[str, str] | None = None
) -> RemoteSettings:
    """Settings from the environment, overlaid with the given connections."""
    settings = RemoteSettings.from_env(env)
    if aws_conn_id:
        settings = s3_settings_from_connection(get_connection(aws_conn_id), settings)
    if sftp_conn_id:
        settings = sftp_settings_from_connection(get_connection(sftp_conn_id), settings)
    return settings


def connection_fetcher(aws_conn_id: str | None = None, sftp_conn_id: str | None = None) -> Fetcher:
    """The fetcher for the Airflow side: the process's env-configured one without connections, else a
    `SchemeFetcher` over a `RemoteStorage` configured from the connections."""
    from capillaries_provider.script.fetch import SchemeFetcher, default_fetcher

    if not aws_conn_id and not sftp_conn_id:
        return default_fetcher()
    from capillaries_provider.storage.remote import RemoteStorage

    return SchemeFetcher(storage=RemoteStorage(remote_settings(aws_conn_id, sftp_conn_id)))


def sftp_connection_url(conn_id: str, path: str) -> str:
    """`sftp://login@host:port/path` from an sftp connection (for an `ObjectStoragePath` without a host)."""
    conn = get_connection(conn_id)
    if not conn.host or not conn.login:
        raise StorageConnectionError(f"sftp connection {conn_id!r}: needs host and login to build an sftp:// URL")
    port = int(conn.port or SFTP_DEFAULT_PORT)
    return f"sftp://{conn.login}@{conn.host}:{port}/{path.lstrip('/')}"


def storage_path_url(value: Any) -> tuple[str, str | None, str | None]:
    """(url, aws_conn_id, sftp_conn_id) for a path given as a string or an Airflow `ObjectStoragePath`.

    `ObjectStoragePath("s3://conn_id@bucket/key")` becomes `s3://bucket/key` read with `conn_id`; an sftp path
    becomes `sftp://login@host:port/path` from its connection; `file://` paths become local paths. The URL (never
    the connection id) is what workers receive.
    """
    if isinstance(value, str):
        return value, None, None
    if isinstance(value, os.PathLike) and not hasattr(value, "protocol"):
        return os.fspath(value), None, None
    raw = getattr(value, "protocol", "") or ""
    protocol = str(raw[0] if isinstance(raw, list | tuple) else raw)
    conn_id = getattr(value, "conn_id", None) or None
    inner = str(getattr(value, "path", "") or "")
    if protocol in ("", "file", "local"):
        return "/" + inner.lstrip("/"), None, None
    if protocol in ("s3", "s3a"):
        return f"s3://{inner.lstrip('/')}", conn_id, None
    if protocol in ("sftp", "ssh"):
        if not conn_id:
            raise StorageConnectionError(f"ObjectStoragePath {value!s}: an sftp path needs a connection id")
        return sftp_connection_url(conn_id, inner), None, conn_id
    if protocol in ("http", "https"):
        return str(value), None, None
    raise StorageConnectionError(f"ObjectStoragePath protocol {protocol!r} is not supported (s3, sftp, file, http(s))")
