"""Long-lived py_calc child processes, one pool per worker process (DESIGN: user Python runs out of process).

Go started one interpreter per page and never enforced its timeout (spec quirk 12). Here a child lives as long as
it behaves: it answers a page row by row and each answer must arrive in time (the child interrupts an overrunning
row itself); a child that misses the deadline anyway, dies (e.g. `os._exit` in user code, the memory limit) or
breaks the protocol is killed with its whole process group and simply not reused, so the next request starts a
fresh one. Children get a minimal environment and an address-space limit (see settings.py).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import signal
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

from capillaries_provider import telemetry
from capillaries_provider.engine.pycalc.errors import PyCalcError, PyCalcTimeoutError
from capillaries_provider.engine.pycalc.settings import PyCalcSettings, child_environment

CHILD_SCRIPT = Path(__file__).with_name("child_main.py")
STARTUP_TIMEOUT_S = 30.0
_HEADER = struct.Struct(">I")
_STDERR_TAIL_BYTES = 2000


class _Child:
    """One child process and its pipes; every exchange is bounded by a deadline."""

    def __init__(self, settings: PyCalcSettings) -> None:
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in kill()
        self._buf = bytearray()
        argv = [
            settings.interpreter_path,
            *settings.interpreter_params,
            str(CHILD_SCRIPT),
            str(settings.memory_limit_mb),
            str(os.getpid()),
        ]
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=child_environment(),
                close_fds=True,
                start_new_session=True,
            )
        except OSError as e:
            self._stderr.close()
            raise PyCalcError(
                f"cannot start the py_calc interpreter {settings.interpreter_path!r}: {e.strerror or e}"
            ) from e
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()
        os.set_blocking(self._in, False)
        os.set_blocking(self._out, False)
        try:
            ready = self._receive(time.monotonic() + STARTUP_TIMEOUT_S, "start")
        except PyCalcError:
            self.kill()
            raise
        if not ready.get("ready"):
            self.kill()
            raise PyCalcError(f"py_calc child sent an unexpected greeting: {ready!r}")

    def exchange(self, request: dict[str, Any], frame_timeout_s: float) -> dict[str, Any]:
        """Send one page and collect its answer frames, each within `frame_timeout_s` of the previous one.

        Returns `{"rows": [...]}` or the child's `{"error": ..., "message": ...}`; the child is killed on failure.
        """
        body = json.dumps(request, ensure_ascii=False).encode("utf-8", "surrogatepass")
        try:
            self._send(_HEADER.pack(len(body)) + body, time.monotonic() + frame_timeout_s)
            rows: list[Any] = []
            while True:
                frame = self._receive(time.monotonic() + frame_timeout_s, "run")
                if "row" in frame:
                    rows.append(frame["row"])
                elif frame.get("end"):
                    return {"rows": rows}
                elif "error" in frame:
                    return frame
                else:
                    raise PyCalcError(f"py_calc child broke the protocol: unexpected frame {frame!r:.200}")
        except PyCalcTimeoutError as e:
            self.kill()
            raise PyCalcTimeoutError(f"{e} (after {len(rows)} rows)") from e
        except PyCalcError:
            self.kill()
            raise
        except OSError as e:
            self.kill()
            raise PyCalcError(f"lost the connection to the py_calc Python process: {e}") from e

    def _send(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        with selectors.DefaultSelector() as sel:
            sel.register(self._in, selectors.EVENT_WRITE)
            while view:
                self._wait(sel, deadline)
                try:
                    written = os.write(self._in, view)
                except BlockingIOError:
                    continue
                except (BrokenPipeError, ConnectionResetError) as e:
                    raise self._died() from e
                view = view[written:]

    def _receive(self, deadline: float, phase: str) -> dict[str, Any]:
        """The next frame; bytes of later frames read along with it stay in the buffer."""
        buf = self._buf
        with selectors.DefaultSelector() as sel:
            sel.register(self._out, selectors.EVENT_READ)
            while len(buf) < _HEADER.size or len(buf) < _HEADER.size + _HEADER.unpack_from(buf)[0]:
                self._wait(sel, deadline)
                try:
                    chunk = os.read(self._out, 1 << 20)
                except BlockingIOError:
                    continue
                if not chunk:
                    raise self._died()
                buf += chunk
        (size,) = _HEADER.unpack_from(buf)
        body = bytes(buf[_HEADER.size : _HEADER.size + size])
        del buf[: _HEADER.size + size]
        try:
            answer = json.loads(body.decode("utf-8", "surrogatepass"))
        except ValueError as e:
            raise PyCalcError(f"py_calc child broke the protocol during {phase}: {e}") from e
        if not isinstance(answer, dict):
            raise PyCalcError(f"py_calc child broke the protocol during {phase}: answer is not an object")
        return answer

    def _wait(self, sel: selectors.BaseSelector, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if (remaining <= 0 or not sel.select(remaining)) and time.monotonic() >= deadline:
            raise PyCalcTimeoutError("py_calc child did not answer in time")

    def _died(self) -> PyCalcError:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        how = f"exit code {code}" if code is not None and code >= 0 else f"signal {-(code or 0)}"
        tail = self._stderr_tail()
        return PyCalcError(
            f"the py_calc Python process exited unexpectedly ({how}); user code may have called os._exit, "
            f"crashed the interpreter or exceeded the memory limit"
            + (f"; its stderr ends with:\n{tail}" if tail else "")
        )

    def _stderr_tail(self) -> str:
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - _STDERR_TAIL_BYTES))
            return self._stderr.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """Kill the child and anything it started (it leads its own process group)."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._stderr.close()

    def close(self) -> None:
        """Ask the child to finish (EOF on its input), then make sure it is gone."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=2)
        self.kill()


class PyCalcPool:
    """Up to `settings.max_processes` reusable children; `run()` borrows one for one request."""

    def __init__(self, settings: PyCalcSettings) -> None:
        self.settings = settings
        self._idle: list[_Child] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(settings.max_processes)
        self._closed = False

    def run(self, request: dict[str, Any], frame_timeout_s: float) -> dict[str, Any]:
        """Run one page on an idle (or new) child; each answer frame (a row) must come within `frame_timeout_s`.

        A child that misses that deadline (its code ignored the per-row alarm) is killed: PyCalcTimeoutError.
        """
        if not self._slots.acquire(timeout=max(frame_timeout_s, STARTUP_TIMEOUT_S)):
            raise PyCalcError(f"no py_calc process became free within {frame_timeout_s:.1f} s")
        try:
            child = self._take()
            try:
                answer = child.exchange(request, frame_timeout_s)
            except PyCalcTimeoutError as e:
                telemetry.pycalc_child_killed("timeout")
                raise PyCalcTimeoutError(
                    f"a py_calc row did not finish within {frame_timeout_s * 1000:.0f} ms and did not stop when "
                    f"interrupted; the Python process was killed and a fresh one will be used next time ({e})"
                ) from e
            except PyCalcError:
                telemetry.pycalc_child_killed("failure")
                raise
            self._give_back(child)
            return answer
        finally:
            self._slots.release()

    def _take(self) -> _Child:
        with self._lock:
            if self._closed:
                raise PyCalcError("py_calc pool is closed")
            while self._idle:
                child = self._idle.pop()
                if child.alive():
                    return child
                telemetry.pycalc_child_killed("failure")
                child.kill()
        child = _Child(self.settings)
        telemetry.pycalc_child_started()
        return child

    def _give_back(self, child: _Child) -> None:
        with self._lock:
            if not child.alive():
                telemetry.pycalc_child_killed("failure")
                child.close()
            elif self._closed:
                child.close()
            else:
                self._idle.append(child)

    @property
    def idle_processes(self) -> int:
        with self._lock:
            return len(self._idle)

    def close(self) -> None:
        """Stop every idle child; children in use are stopped when they are handed back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for child in idle:
            child.close()


_pools: dict[PyCalcSettings, PyCalcPool] = {}
_pools_pid = os.getpid()
_pools_lock = threading.Lock()


def shared_pool(settings: PyCalcSettings) -> PyCalcPool:
    """The pool of this worker process for `settings` (a forked process gets its own, never its parent's)."""
    global _pools_pid
    with _pools_lock:
        if _pools_pid != os.getpid():
            _pools.clear()
            _pools_pid = os.getpid()
        pool = _pools.get(settings)
        if pool is None:
            pool = _pools[settings] = PyCalcPool(settings)
        return pool


@atexit.register
def _close_shared_pools() -> None:
    with _pools_lock:
        pools = list(_pools.values()) if _pools_pid == os.getpid() else []
        _pools.clear()
    for pool in pools:
        pool.close()
