"""Where processors read inputs and write outputs: one local path or stream per URL, whatever its scheme.

Local files are read in place and written to a temporary name next to the target, renamed when complete. Remote
inputs are streamed (`remote.RemoteStorage.open_input`); remote outputs are written to a local temporary file (one
batch's output) and uploaded atomically when complete. Either way a failed batch leaves no file under the final
name, and a redone batch rewrites the same one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit

from capillaries_provider.config import file_roots
from capillaries_provider.storage.urls import is_remote


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


def file_exists(url: str) -> bool:
    """Whether the file at `url` exists; problems other than absence (403, TLS, auth) raise OSError."""
    if not is_remote(url):
        return os.path.isfile(local_path(url))
    from capillaries_provider.storage.remote import shared_storage

    return shared_storage().exists(url)


@contextmanager
def input_source(url: str) -> Iterator[str | IO[bytes]]:
    """A local path to read in place, or a seekable stream over the remote file."""
    if not is_remote(url):
        yield local_path(url)
        return
    from capillaries_provider.storage.remote import shared_storage

    with shared_storage().open_input(url) as stream:
        yield stream


@contextmanager
def output_target(url: str) -> Iterator[Path]:
    """A local file to write; when the block ends without an error it becomes the file at `url`."""
    if is_remote(url):
        from capillaries_provider.storage.remote import shared_storage

        fd, name = tempfile.mkstemp(prefix="capillaries-out-", suffix=Path(urlsplit(url).path).suffix)
        os.close(fd)
        tmp = Path(name)
        try:
            yield tmp
            shared_storage().upload(tmp, url)
        finally:
            tmp.unlink(missing_ok=True)
        return
    target = Path(local_path(url))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
