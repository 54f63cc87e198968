"""Settings of the py_calc runner (spec 7.1 env settings) and the environment its Python children get.

Go reads `custom_processors.py_calc` from the daemon config and the `CAPI_PYCALC_*` variables; we accept those
names and our own `CAPILLARIES_PYCALC_*` ones (which win). Two settings are ours: the memory limit of a child and
how many children one worker process may keep.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass

# Per row. Go's default was 5000 ms per interpreter run but never enforced (quirk 12); real formulas (e.g. the
# portfolio conformance case, several seconds per account) need more, so our enforced default is generous.
DEFAULT_EXECUTION_TIMEOUT_MS = 60_000
DEFAULT_MEMORY_LIMIT_MB = 2048
DEFAULT_MAX_PROCESSES = 4

# Only these variables reach user Python: enough to run an interpreter and find its packages, nothing that could
# carry a credential (CAPILLARIES_*PASSWORD*, AIRFLOW_CONN_*, AWS_* ... are all dropped).
CHILD_ENV_ALLOWLIST = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "HOME", "TMPDIR", "PYTHONPATH")


@dataclass(frozen=True)
class PyCalcSettings:
    """How py_calc children are started and limited.

    `execution_timeout_ms` bounds the calculation of one row (Go meant one interpreter run per page, but never
    enforced it); `memory_limit_mb` is the child's address-space limit (RLIMIT_AS, 0 = none); `max_processes` caps
    the children of one worker process.
    """

    interpreter_path: str = sys.executable
    interpreter_params: tuple[str, ...] = ()
    execution_timeout_ms: int = DEFAULT_EXECUTION_TIMEOUT_MS
    memory_limit_mb: int = DEFAULT_MEMORY_LIMIT_MB
    max_processes: int = DEFAULT_MAX_PROCESSES

    def __post_init__(self) -> None:
        if not self.interpreter_path:
            raise ValueError("py_calc python_interpreter_path must not be empty")
        if self.execution_timeout_ms <= 0:
            raise ValueError("py_calc execution_timeout must be a positive number of milliseconds")
        if self.memory_limit_mb < 0:
            raise ValueError("py_calc memory limit must be >= 0 MB (0 = no limit)")
        if self.max_processes < 1:
            raise ValueError("py_calc max_processes must be at least 1")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PyCalcSettings:
        e = os.environ if env is None else env

        def get(name: str) -> str:
            return e.get(f"CAPILLARIES_PYCALC_{name}") or e.get(f"CAPI_PYCALC_{name}") or ""

        timeout = get("EXECUTION_TIMEOUT_MS") or get("EXECUTION_TIMEOUT")
        return cls(
            interpreter_path=get("INTERPRETER_PATH") or sys.executable,
            interpreter_params=parse_interpreter_params(get("INTERPRETER_PARAMS")),
            execution_timeout_ms=int(timeout) if timeout else DEFAULT_EXECUTION_TIMEOUT_MS,
            memory_limit_mb=int(get("MEMORY_LIMIT_MB") or DEFAULT_MEMORY_LIMIT_MB),
            max_processes=int(get("MAX_PROCESSES") or DEFAULT_MAX_PROCESSES),
        )


def parse_interpreter_params(text: str) -> tuple[str, ...]:
    """A JSON list (`["-u", "-"]`, as in Go's config) or a shell-style string.

    A lone `-` is dropped: in Go it told the interpreter to read the generated program from stdin, while our child
    program is a file and stdin carries the protocol.
    """
    text = text.strip()
    if not text:
        return ()
    items = json.loads(text) if text.startswith("[") else shlex.split(text)
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ValueError(f"py_calc interpreter params must be a list of strings, got {text!r}")
    return tuple(i for i in items if i != "-")


def child_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a py_calc child: the allowlisted variables only, plus UTF-8 stdio."""
    e = os.environ if env is None else env
    out = {k: e[k] for k in CHILD_ENV_ALLOWLIST if k in e}
    out.setdefault("PATH", os.defpath)
    out["PYTHONIOENCODING"] = "utf-8"
    out["PYTHONDONTWRITEBYTECODE"] = "1"
    return out
