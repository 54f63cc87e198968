"""How a node's input is split into batches (spec 1.14).

File readers: batch i is `urls[i]` and its "token range" is (i, i). Table readers: the Murmur3 token space
[MinInt64, MaxInt64] is cut into `expected_batches_total` intervals with Go's truncating int64 division; the exact
boundaries matter because rows are assigned to batches by `token(rowid)` and other implementations must agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from capillaries_provider.expr.types import INT64_MAX, INT64_MIN
from capillaries_provider.script.model import Node


@dataclass(frozen=True)
class TokenRange:
    """Inclusive [first_token, last_token]; for file readers both are the url index."""

    first_token: int
    last_token: int


def _go_div(a: int, b: int) -> int:
    """Go int64 division: truncates toward zero (Python's // floors)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def token_ranges(batches_total: int) -> tuple[TokenRange, ...]:
    """Go GetTokenIntervalsByNumberOfBatches: N intervals covering the whole int64 token space."""
    if batches_total < 1:
        raise ValueError(f"batches_total must be >= 1, got {batches_total}")
    if batches_total == 1:
        return (TokenRange(INT64_MIN, INT64_MAX),)
    width = _go_div(INT64_MAX, batches_total) - _go_div(INT64_MIN, batches_total)
    out: list[TokenRange] = []
    left = INT64_MIN
    for i in range(batches_total):
        right = INT64_MAX if i == batches_total - 1 else left + width - 1
        out.append(TokenRange(left, right))
        left = right + 1
    return tuple(out)


def node_batches(node: Node) -> tuple[TokenRange, ...]:
    """The batches of one node: one per url for file readers, token intervals for table readers."""
    if node.file_reader is not None:
        return tuple(TokenRange(i, i) for i in range(len(node.file_reader.urls)))
    if node.table_reader is not None:
        return token_ranges(node.table_reader.expected_batches_total)
    raise ValueError(f"node {node.name} has no reader")
