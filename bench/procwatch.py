"""CPU time and peak memory of process trees, read from /proc (psutil is not a dependency).

A `TreeWatch` samples a root process and all its descendants every `interval_s`: per pid it keeps the latest
user+system CPU time and the peak resident set size (`VmHWM`, the kernel's own high-water mark, so short peaks
between samples are not missed). CPU used by a process that exits between two samples is lost, so the interval is
kept short; the worker processes and py_calc children being measured live for the whole run.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


@dataclass
class ProcSample:
    pid: int
    ppid: int
    name: str
    cpu_s: float
    hwm_kb: int
    rss_kb: int
    cmd: str


def read_proc(pid: int) -> ProcSample | None:
    """One process's parent, command name, CPU seconds and memory; None if it is gone or unreadable."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
        status = (PROC / str(pid) / "status").read_text()
        cmd = (PROC / str(pid) / "cmdline").read_bytes()[:300].replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name is in parentheses and may contain spaces: split after the last ')'.
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2 :].split()
    ppid = int(fields[1])
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    mem = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            mem[key] = int(value.split()[0])
    return ProcSample(pid, ppid, name, cpu, mem.get("VmHWM", 0), mem.get("VmRSS", 0), cmd)


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by one process, 0.0 if it is gone."""
    s = read_proc(pid)
    return 0.0 if s is None else s.cpu_s


def descendants(root: int) -> list[ProcSample]:
    """Samples of `root` and every process below it, found by walking parent links of all processes."""
    samples: dict[int, ProcSample] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            s = read_proc(int(entry.name))
            if s is not None:
                samples[s.pid] = s
    keep = {root}
    changed = True
    while changed:
        changed = False
        for s in samples.values():
            if s.pid not in keep and s.ppid in keep:
                keep.add(s.pid)
                changed = True
    return [s for pid, s in samples.items() if pid in keep]


@dataclass
class TreeWatch:
    """Background sampler of one process tree; read `cpu_s()` and `peaks` while or after it runs."""

    root: int
    interval_s: float = 0.25
    last: dict[int, ProcSample] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> TreeWatch:
        self.sample()
        self._thread = threading.Thread(target=self._loop, name="treewatch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def sample(self) -> None:
        found = descendants(self.root)
        with self._lock:
            for s in found:
                self.last[s.pid] = s

    def cpu_s(self) -> float:
        """CPU seconds of the whole tree, including processes that have exited since they were last seen."""
        self.sample()
        with self._lock:
            return sum(s.cpu_s for s in self.last.values())

    def peak_rss_by_role(self) -> dict[str, list[float]]:
        """Peak RSS (MB) of every process seen, grouped by role: `worker` (the supervisor's spawned children),
        `py_calc` (their children), `supervisor`, `other` (e.g. multiprocessing's resource tracker)."""
        with self._lock:
            items = list(self.last.values())
        workers = {s.pid for s in items if s.ppid == self.root and "spawn_main" in s.cmd}
        out: dict[str, list[float]] = {"supervisor": [], "worker": [], "py_calc": [], "other": []}
        for s in items:
            if s.pid == self.root:
                role = "supervisor"
            elif s.pid in workers:
                role = "worker"
            elif s.ppid in workers:
                role = "py_calc"
            else:
                role = "other"
            out[role].append(s.hwm_kb / 1024)
        return out


def cassandra_pids() -> tuple[int, ...]:
    """Every local Cassandra JVM, one per node of a local cluster (read only: their CPU is part of each stage cost)."""
    pids = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"java" in cmd and b"CassandraDaemon" in cmd:
                pids.append(int(entry.name))
    return tuple(sorted(pids))


def cpu_seconds_all(pids: Sequence[int]) -> float:
    """CPU seconds used so far by all of `pids` together (those that are gone count 0)."""
    return sum(cpu_seconds(pid) for pid in pids)
