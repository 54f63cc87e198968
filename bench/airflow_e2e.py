"""End-to-end wall time of the benchmark script through Airflow (placeholder until the DAG factory lands)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path


def measure(
    params: Path, start_nodes: Sequence[str], repeats: int, queue: str, timeout_s: float, log: Callable[[str], None]
) -> tuple[list[float], str]:
    raise NotImplementedError("Airflow end-to-end measurement is not wired yet")
