"""Summaries (median with min/max), the printed tables and the load-scaling plot of a benchmark invocation."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Spread:
    """Median of the repeats with their min and max; `n` repeats."""

    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread | None:
        if not values:
            return None
        return cls(statistics.median(values), min(values), max(values), len(values))

    def fmt(self, digits: int = 0) -> str:
        if self.n == 1:
            return f"{self.median:,.{digits}f}"
        return f"{self.median:,.{digits}f} [{self.low:,.{digits}f}-{self.high:,.{digits}f}]"


def fmt(spread: Spread | None, digits: int = 0) -> str:
    return "not measured" if spread is None else spread.fmt(digits)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table (also readable as plain text on a terminal)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    return "\n".join([line, sep, *body])


def plot_scaling(
    path: Path,
    processes: Sequence[int],
    load: Sequence[Spread | None],
    ceilings: Mapping[str, Sequence[Spread | None]],
    title: str,
) -> None:
    """Rows/s of the load stage and of the raw writer(s) against process count, medians with min-max error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    lines = [("load stage (workers)", load, "o")] + [(label, series, "s") for label, series in ceilings.items()]
    for label, series, marker in lines:
        pts = [(p, s) for p, s in zip(processes, series, strict=True) if s is not None]
        if not pts:
            continue
        xs = [p for p, _ in pts]
        ys = [s.median for _, s in pts]
        err = [[s.median - s.low for _, s in pts], [s.high - s.median for _, s in pts]]
        ax.errorbar(xs, ys, yerr=err, marker=marker, capsize=4, label=label)
    ax.set_xlabel("processes")
    ax.set_ylabel("rows/s (data row + index row)")
    ax.set_xticks(list(processes))
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.set_title(title, fontsize=10)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
