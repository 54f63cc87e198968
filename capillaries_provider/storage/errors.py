"""The one error remote storage raises (kept apart so processors can catch it without loading fsspec)."""

from __future__ import annotations


class RemoteFileError(OSError):
    """A remote file could not be read or written; the message has the redacted URL and the cause.

    `transient` is True when the cause was a timeout, a 5xx answer or a dropped connection that persisted through
    every retry; a later attempt may succeed. Otherwise (404, 403, unknown host, untrusted certificate, failed
    authentication) retrying cannot help.
    """

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient

    def __str__(self) -> str:
        return str(self.args[0])
