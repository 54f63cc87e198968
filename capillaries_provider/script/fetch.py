"""Reading scripts, params and referenced files by URL (spec 9.1).

Capillaries reads everything (script, params, py_calc code, tag criteria) through one fetcher keyed by URL scheme.
Only local paths are implemented here; `http(s)`, `s3` and `sftp` plug in later as further `Fetcher`s (e.g. over
fsspec) registered by scheme, so the loader never needs to change. An unsupported scheme is a clear error, not a
connectivity problem: retrying would not help.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Protocol
from urllib.parse import unquote, urlsplit

from capillaries_provider.config import file_roots
from capillaries_provider.script.errors import ScriptError, ScriptFetchError, ScriptValidationError
from capillaries_provider.script.limits import MAX_DOCUMENT_BYTES


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
        size = max(size, len(data))  # a pipe or device reports no size
        if size > MAX_DOCUMENT_BYTES:
            message = f"file is {size:,} bytes, more than the limit of {MAX_DOCUMENT_BYTES:,} the loader reads"
            raise ScriptValidationError([ScriptError(message, file=url)])
        return data


def url_scheme(url: str) -> str:
    """The lower-cased scheme, '' for plain paths."""
    return urlsplit(url).scheme.lower()


class PathOutsideRootsError(PermissionError):
    """A script names a local file outside the configured `CAPILLARIES_FILE_ROOTS` (a permanent error)."""


def local_path(url: str) -> str:
    """The filesystem path of a plain path or `file://` URL; it must lie under a configured file root, if any."""
    parts = urlsplit(url)
    path = unquote(parts.path) if parts.scheme.lower() == "file" else url
    roots = file_roots()
    if roots:
        real = os.path.realpath(path)
        if not any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in roots):
            raise PathOutsideRootsError(f"{url} is outside the allowed file roots ({os.pathsep.join(roots)})")
    return path


class SchemeFetcher:
    """Dispatches by URL scheme; schemes without a registered fetcher are rejected with the list of supported ones."""

    def __init__(self, fetchers: Mapping[str, Fetcher] | None = None) -> None:
        local = LocalFileFetcher()
        self._fetchers: dict[str, Fetcher] = {"": local, "file": local}
        self._fetchers.update(fetchers or {})

    def read_bytes(self, url: str) -> bytes:
        scheme = url_scheme(url)
        fetcher = self._fetchers.get(scheme)
        if fetcher is None:
            supported = ", ".join(sorted(s + "://" if s else "local path" for s in self._fetchers))
            raise ScriptValidationError(
                [ScriptError(f"unsupported URL scheme {scheme!r} in {url}; supported: {supported}", file=url)]
            )
        return fetcher.read_bytes(url)


def default_fetcher() -> Fetcher:
    """The fetcher used when the caller does not supply one."""
    return SchemeFetcher()
