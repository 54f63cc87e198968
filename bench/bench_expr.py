"""Throughput of compiled expressions (evaluations per CPU-second on one core, median of 5 runs).

Run: `.venv/bin/python bench/bench_expr.py`. Not a test: numbers feed docs/performance.md. Rates are measured
against process CPU time so that other processes sharing the machine do not distort them; wall-clock rates are
printed too.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping

from capillaries_provider.expr import FieldType, Value, compile_expr, parse

ENV: Mapping[str, Mapping[str, FieldType]] = {
    "r": {
        "a": FieldType.FLOAT,
        "b": FieldType.FLOAT,
        "x": FieldType.INT,
        "s": FieldType.STRING,
        "i": FieldType.INT,
        "d": FieldType.STRING,
    }
}

CASES = [
    ("r.a * r.b + 1.0", 1_000_000),
    ("int.iif(r.x > 0, r.x, -r.x)", 300_000),
    ('fmt.Sprintf("%s-%05d", r.s, r.i)', 300_000),
    ('time.Parse("2006-01-02", r.d)', 300_000),
]

N_ROWS = 1000
N_PASSES = 100
N_RUNS = 5


def _rows() -> list[dict[str, dict[str, Value]]]:
    """Distinct values per row so that no cache can make the numbers look better than real data."""
    return [
        {
            "r": {
                "a": 1.5 + i,
                "b": 0.25 * i,
                "x": i - N_ROWS // 2,
                "s": f"key{i}",
                "i": i * 7,
                "d": f"{2000 + i % 25:04d}-{1 + i % 12:02d}-{1 + i % 28:02d}",
            }
        }
        for i in range(N_ROWS)
    ]


def bench(text: str) -> tuple[float, float]:
    """Median (CPU-time rate, wall-clock rate) over N_RUNS runs."""
    fn = compile_expr(parse(text), ENV, round_decimals=True)
    rows = _rows()
    cpu_rates, wall_rates = [], []
    evals = N_ROWS * N_PASSES
    for _ in range(N_RUNS):
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(N_PASSES):
            for row in rows:
                fn(row)
        cpu_rates.append(evals / (time.process_time() - cpu))
        wall_rates.append(evals / (time.perf_counter() - wall))
    return statistics.median(cpu_rates), statistics.median(wall_rates)


def main() -> None:
    for text, target in CASES:
        cpu_rate, wall_rate = bench(text)
        verdict = "ok" if cpu_rate >= target else "BELOW TARGET"
        print(f"{cpu_rate:>12,.0f} evals/s  (wall {wall_rate:>12,.0f}, target {target:>9,})  {verdict:<12}  {text}")


if __name__ == "__main__":
    main()
