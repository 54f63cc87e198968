"""Reading scripts, params and referenced files by URL (spec 9.1).

Capillaries reads everything (script, params, py_calc code, tag criteria) through one fetcher keyed by URL scheme:
local paths here, `s3`, `http(s)` and `sftp` through `storage.remote`. An unsupported scheme, a missing file or a
refused credential is a clear error; only timeouts, 5xx answers and dropped connections (after the storage layer's
own retries) are connectivity problems worth retrying later.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from capillaries_provider.script.errors import ScriptError, ScriptFetchError, ScriptValidationError
from capillaries_provider.script.limits import MAX_DOCUMENT_BYTES
from capillaries_provider.storage.files import PathOutsideRootsError, local_path
from capillaries_provider.storage.urls import READ_SCHEMES, redact, scheme_problem, url_scheme

if TYPE_CHECKING:
    from capillaries_provider.storage.remote import RemoteStorage


class Fetcher(Protocol):
    """Reads the whole content of one URL; raises ScriptFetchError when the source cannot be reached or read."""

    def read_bytes(self, url: str) -> bytes: ...


class LocalFileFetcher:
    """Plain paths and `file://` URLs."""

    def read_bytes(self, url: str) -> bytes:
        try:
            path = local_path(url)
        except PathOutsideRootsError as e:
            raise ScriptValidationError([ScriptError(str(e), file=url)]) from None
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                data = b"" if size > MAX_DOCUMENT_BYTES else f.read(MAX_DOCUMENT_BYTES + 1)
        except OSError as e:
            raise ScriptFetchError(f"cannot read {url}: {e.strerror or e}") from e
        return _within_limit(data, max(size, len(data)), url)  # a pipe or device reports no size


def _within_limit(data: bytes, size: int | None, url: str) -> bytes:
    """`data`, unless the file is larger than the loader reads (`size` None: only known to be larger)."""
    if max(size or 0, len(data)) > MAX_DOCUMENT_BYTES:
        if size is None:
            message = f"file is more than the limit of {MAX_DOCUMENT_BYTES:,} bytes the loader reads"
        else:
            message = f"file is {size:,} bytes, more than the limit of {MAX_DOCUMENT_BYTES:,} the loader reads"
        raise ScriptValidationError([ScriptError(message, file=redact(url))])
    return data


class RemoteFetcher:
    """`s3://`, `http(s)://` and `sftp://` through the storage layer (the process's shared one by default)."""

    def __init__(self, storage: RemoteStorage | None = None) -> None:
        self._storage = storage

    def read_bytes(self, url: str) -> bytes:
        from capillaries_provider.storage.errors import RemoteFileError
        from capillaries_provider.storage.remote import shared_storage

        try:
            data = (self._storage or shared_storage()).read_bytes(url, MAX_DOCUMENT_BYTES)
        except RemoteFileError as e:
            if e.transient:
                raise ScriptFetchError(str(e)) from None
            message = str(e).removeprefix(f"{redact(url)}: ")  # the error names the file already
            raise ScriptValidationError([ScriptError(message, file=redact(url))]) from None
        return _within_limit(data, None, url)


class SchemeFetcher:
    """Dispatches by URL scheme: local paths, then `s3`, `http(s)` and `sftp` over `storage` (the process's shared
    storage when None); other schemes are rejected with the list of supported ones."""

    def __init__(self, storage: RemoteStorage | None = None, fetchers: Mapping[str, Fetcher] | None = None) -> None:
        local = LocalFileFetcher()
        remote = RemoteFetcher(storage)
        self._fetchers: dict[str, Fetcher] = {s: local if s in ("", "file") else remote for s in READ_SCHEMES}
        self._fetchers.update(fetchers or {})

    def read_bytes(self, url: str) -> bytes:
        fetcher = self._fetchers.get(url_scheme(url))
        if fetcher is None:
            problem = scheme_problem(url, tuple(self._fetchers))
            raise ScriptValidationError([ScriptError(problem or "unsupported URL", file=redact(url))])
        return fetcher.read_bytes(url)


def default_fetcher() -> Fetcher:
    """The fetcher used when the caller does not supply one."""
    return SchemeFetcher()
