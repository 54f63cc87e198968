"""Loaded scripts memoised, shared by the DAG factory (parse time) and the tasks (run time).

The dag-processor re-parses DAG files every 30 s and every task start parses its DAG file again; re-validating an
unchanged script each time would be wasted work. Local files are kept until their size or mtime changes; a script
or params file read by URL (`s3://`, `http(s)://`, `sftp://`) cannot be checked that cheaply, so a load that read
one is kept for `REMOTE_TTL_S` (like the workers' script cache), then read again.

With `aws_conn_id` / `sftp_conn_id`, remote files are read with the credentials of those Airflow connections
(`hooks.storage_connections`); without them, with the process's environment.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from capillaries_provider.script.loader import load_script
from capillaries_provider.script.model import Script
from capillaries_provider.storage.urls import is_remote, redact, url_scheme

log = logging.getLogger(__name__)

REMOTE_TTL_S = 60.0

_CACHE: dict[tuple[str, str, str, str], tuple[tuple[Any, ...], float, Script]] = {}


def _file_key(path: str) -> tuple[Any, ...]:
    if not path:
        return ()
    if is_remote(path):
        return ("remote",)
    if url_scheme(path) == "file":
        from capillaries_provider.storage.files import local_path

        path = local_path(path)
    st = os.stat(path)
    return (st.st_size, st.st_mtime_ns)


def load_script_cached(
    script_path: str,
    params_path: str | None = None,
    *,
    aws_conn_id: str | None = None,
    sftp_conn_id: str | None = None,
) -> Script:
    """`load_script` that returns the previous result while neither file changed (remote: for `REMOTE_TTL_S`)."""
    cache_key = (script_path, params_path or "", aws_conn_id or "", sftp_conn_id or "")
    key = (_file_key(script_path), _file_key(params_path or ""))
    remote = ("remote",) in key
    now = time.monotonic()
    hit = _CACHE.get(cache_key)
    if hit is not None and hit[0] == key and (not remote or now - hit[1] < REMOTE_TTL_S):
        return hit[2]
    fetcher = None
    if aws_conn_id or sftp_conn_id:
        from capillaries_provider.hooks.storage_connections import connection_fetcher

        fetcher = connection_fetcher(aws_conn_id, sftp_conn_id)
    script = load_script(script_path, params_path or None, fetcher=fetcher)
    log.debug("loaded Capillaries script %s in %.3f s", redact(script_path), time.monotonic() - now)
    _CACHE[cache_key] = (key, now, script)
    return script
