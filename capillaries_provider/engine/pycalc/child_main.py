"""The py_calc child process: runs user formulas for one worker process, page after page (spec 7.1).

Started as `<interpreter> [params] child_main.py <memory_limit_mb> <parent pid>` with a minimal environment; it
dies with its parent (Linux parent-death signal). It must stay a
standalone script (the interpreter may not have capillaries_provider installed), so it imports only the
standard library.

Protocol (frames = 4-byte big-endian length + UTF-8 JSON) on private copies of stdin/stdout; fds 0 and 1 are then
pointed at /dev/null so that `print()` in user code cannot corrupt the stream. After the `ready` frame, each
request is one page:

    {"code": <user Python>, "fields": [[name, python_expression], ...] in calculation order,
     "r_fields": [[name, tag], ...], "rows": [[value, ...], ...]}

with `"row_timeout_s"`, and the answer is one frame per row, `{"row": [0, <json.dumps of the p.* values>]}` or
`{"row": [1, <field or "">, <traceback>]}`, then `{"end": true}`; or, when the page cannot run at all, a single
`{"error": <kind>, "message": <text>}`. Each row (and the module code) runs under a SIGALRM budget of
`row_timeout_s`: overrunning raises RowTimeout inside the user code, which fails that row only. Streaming row by
row lets the parent bound every row and kill a child whose code ignored the alarm.

Semantics kept from Go's generated program: the user code runs once per page at module level; each row then sets
globals `r_<field>` and evaluates `p_<field> = <expression>` in order in those same globals; any exception of a row,
SystemExit included (Go used a bare `except:`), fails only that row; results go through `json.dumps`.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import json
import os
import signal
import struct
import sys
import traceback
import warnings
from collections.abc import Callable
from typing import Any

_HEADER = struct.Struct(">I")
_MAX_FRAME = 1 << 31
_CODE_CACHE_SIZE = 16


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd: int) -> Any:
    header = _read_exact(fd, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > _MAX_FRAME:
        raise ValueError("frame too large")
    body = _read_exact(fd, size)
    if body is None:
        return None
    return json.loads(body.decode("utf-8"))


def _write_frame(fd: int, obj: Any) -> None:
    body = json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass")
    data = _HEADER.pack(len(body)) + body
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _python_string(text: str) -> str:
    """The str Python builds from Go's literal `'<text with ' escaped>'` (spec 7.1): escapes are processed."""
    if "\\" not in text and "\n" not in text and "\r" not in text and "\x00" not in text:
        return text
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: str = ast.literal_eval("'" + text.replace("'", "\\'") + "'")
        return value


def _decimal_literal(text: str) -> int | float:
    # Go printed decimal.String() into the program: "10" is a Python int, "12.3" a float (spec quirk 22).
    return float(text) if "." in text else int(text)


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "i": int,
    "f": float,
    "d": _decimal_literal,
    "s": _python_string,
    "b": bool,
    "t": str,
}


def _compile_page(request: dict[str, Any], codes: dict[str, Any]) -> tuple[Any, list[tuple[str, Any]]]:
    code_text = request["code"]
    key = hashlib.sha256(code_text.encode("utf-8", "surrogatepass")).hexdigest()
    code = codes.get(key)
    if code is None:
        code = compile(code_text, "<python_code_urls>", "exec")
        if len(codes) >= _CODE_CACHE_SIZE:
            codes.pop(next(iter(codes)))
        codes[key] = code
    fields = [(name, compile(src, "<p." + name + ">", "eval")) for name, src in request["fields"]]
    return code, fields


class RowTimeout(BaseException):
    """Raised into user code when a row exceeds its time budget (a BaseException: `except Exception` won't hide it)."""


_budget_text = ""


def _on_alarm(signum: int, frame: Any) -> None:
    raise RowTimeout(_budget_text)


class _Budget:
    """Arms SIGALRM for `seconds` while a row (or the module code) runs."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __enter__(self) -> None:
        global _budget_text
        if self.seconds > 0:
            _budget_text = f"the row took longer than {self.seconds * 1000:.0f} ms (execution_timeout)"
            signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc: object) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _run_rows(wfd: int, request: dict[str, Any], code: Any, fields: list[tuple[str, Any]]) -> None:
    budget = _Budget(float(request.get("row_timeout_s", 0)))
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    try:
        with budget:
            exec(code, namespace)
    except BaseException:
        _write_frame(wfd, {"error": "code", "message": traceback.format_exc()})
        return
    r_fields = [("r_" + name, _CONVERT[tag]) for name, tag in request["r_fields"]]
    names = [name for name, _ in fields]
    for row in request["rows"]:
        current = ""
        try:
            with budget:
                for i, (var, convert) in enumerate(r_fields):
                    namespace[var] = convert(row[i])
                for name, expr in fields:
                    current = name
                    namespace["p_" + name] = eval(expr, namespace)
                current = ""
                result: list[Any] = [0, json.dumps({name: namespace["p_" + name] for name in names})]
        except BaseException:
            result = [1, current, traceback.format_exc()]
        _write_frame(wfd, {"row": result})
    _write_frame(wfd, {"end": True})


def _handle(wfd: int, request: dict[str, Any], codes: dict[str, Any]) -> None:
    """Answer one page: a frame per row, then `end`; or a single `error` frame when the page cannot run."""
    try:
        code, fields = _compile_page(request, codes)
    except BaseException:
        _write_frame(wfd, {"error": "compile", "message": traceback.format_exc()})
        return
    _run_rows(wfd, request, code, fields)


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGKILL us when the worker dies, so user code never outlives it (no-op elsewhere)."""
    try:
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(0)


def main() -> None:
    memory_limit_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    if len(sys.argv) > 2:
        _die_with_parent(int(sys.argv[2]))
    if memory_limit_mb > 0:
        import resource

        limit = memory_limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    rfd = os.dup(0)
    wfd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the process
    signal.signal(signal.SIGALRM, _on_alarm)
    _write_frame(wfd, {"ready": True, "python": sys.version.split()[0]})
    codes: dict[str, Any] = {}
    while True:
        request = _read_frame(rfd)
        if request is None:
            return
        _handle(wfd, request, codes)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
