"""URL forms Capillaries accepts (spec 9.1) and how they are shown in messages (never with a secret)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

LOCAL_SCHEMES = ("", "file")
READ_SCHEMES = (*LOCAL_SCHEMES, "s3", "http", "https", "sftp")
WRITE_SCHEMES = (*LOCAL_SCHEMES, "s3", "sftp")
SFTP_DEFAULT_PORT = 22


def url_scheme(url: str) -> str:
    """The lower-cased scheme, '' for plain paths."""
    return urlsplit(url).scheme.lower()


def is_remote(url: str) -> bool:
    return url_scheme(url) not in LOCAL_SCHEMES


def scheme_problem(url: str, schemes: tuple[str, ...]) -> str | None:
    """Why `url` cannot be used where only `schemes` are allowed, or None."""
    scheme = url_scheme(url)
    if scheme in schemes:
        return None
    supported = ", ".join(s + "://" for s in schemes if s) + ", or a local path"
    return f"unsupported URL scheme {scheme!r} in {redact(url)}; supported: {supported}"


_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)([^/@]*)@")


def redact(url: str) -> str:
    """`url` as it may appear in a message: a password in the user part and the query string are dropped."""
    text = url.split("?", 1)[0] + ("?…" if "?" in url else "")
    m = _USERINFO.match(text)
    if m and ":" in m.group(2):
        text = f"{m.group(1)}{m.group(2).split(':', 1)[0]}@{text[m.end() :]}"
    return text


@dataclass(frozen=True)
class RemoteUrl:
    """A parsed remote URL: `s3://bucket/key`, `http(s)://host[:port]/path`, `sftp://user@host[:port]/path`."""

    scheme: str
    host: str
    port: int | None
    user: str
    path: str  # s3: "bucket/key"; http(s): the whole URL; sftp: the absolute path on the server

    @classmethod
    def parse(cls, url: str) -> RemoteUrl:
        """Raises ValueError (naming the redacted URL) for a malformed remote URL."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname or ""
        if not host:
            raise ValueError(f"{redact(url)}: no host (expected {_FORMS.get(scheme, 'a host')})")
        path = unquote(parts.path)
        if scheme == "s3":
            key = path.lstrip("/")
            if not key:
                raise ValueError(f"{redact(url)}: no object key (expected s3://bucket/key)")
            return cls(scheme, host, None, "", f"{host}/{key}")
        if scheme == "sftp":
            user = unquote(parts.username or "")
            if not user or not path:
                raise ValueError(f"{redact(url)}: expected {_FORMS['sftp']}")
            return cls(scheme, host, parts.port or SFTP_DEFAULT_PORT, user, path)
        if scheme in ("http", "https"):
            return cls(scheme, host, parts.port, "", url)
        raise ValueError(f"{redact(url)}: not a remote URL")


_FORMS = {
    "s3": "s3://bucket/key",
    "sftp": "sftp://user@host[:port]/path",
    "http": "http://host[:port]/path",
    "https": "https://host[:port]/path",
}
