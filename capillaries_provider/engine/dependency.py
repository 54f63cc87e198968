"""Dependency check of a batch (spec 5.5): which run's tables a node reads, and whether it may run now.

Pure: the `nrs` entries come from the workflow tables (built by the worker's backend), the decision per dependency
node from script/policy.py's `PolicyChecker`; this module combines reader and lookup decisions and words the reason
recorded on the batch (e.g. why it is nogo).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from capillaries_provider.engine.ports import DependencyLookupError, NodeRunEntry
from capillaries_provider.script.graph import dependency_nodes
from capillaries_provider.script.model import DependencyCmd, DependencyPolicy, Node, Script
from capillaries_provider.script.policy import NodeRunStatus, PolicyChecker, PolicyDecision, combine

_CHECKERS: dict[tuple[str, ...], PolicyChecker] = {}

DECISION_TTL_S = 1.0
DECISION_CACHE_SIZE = 1000


@dataclass(frozen=True)
class DependencyDecision:
    """Combined decision for a batch and the run ids whose tables the processor reads (0 = no such input)."""

    cmd: DependencyCmd
    reader_run_id: int
    lookup_run_id: int
    reason: str


def _checker(policy: DependencyPolicy) -> PolicyChecker:
    """Compiled policies, cached by content: every batch of every node evaluates the same few."""
    key = (policy.event_priority_order_text, *(f"{r.cmd.value}:{r.expression.text}" for r in policy.rules))
    checker = _CHECKERS.get(key)
    if checker is None:
        if len(_CHECKERS) > 256:
            _CHECKERS.clear()
        checker = _CHECKERS[key] = PolicyChecker(policy)
    return checker


def _reason(dep: str, decision: PolicyDecision, entries: Sequence[NodeRunEntry]) -> str:
    if not decision.matched:
        return f"{dep}: no rule of the dependency policy matched any run"
    e = next(x for x in entries if x.run_id == decision.run_id)
    which = "current run" if e.run_is_current else "run"
    return f"{dep}: {decision.cmd.value} on {which} {e.run_id} (run {e.run_status.label}, node {e.node_status.label})"


def decide_node(policy: DependencyPolicy, dep: str, entries: Sequence[NodeRunEntry]) -> tuple[PolicyDecision, str]:
    """The policy's decision for one dependency node, with the reason in words."""
    if not entries:
        raise DependencyLookupError(f"dependency node {dep} was not affected by any run")
    decision = _checker(policy).decide(
        [NodeRunStatus(e.run_id, e.run_is_current, int(e.run_status), int(e.node_status)) for e in entries]
    )
    return decision, _reason(dep, decision, entries)


def decide(script: Script, node: Node, entries: Mapping[str, Sequence[NodeRunEntry]]) -> DependencyDecision:
    """Reader and lookup decisions combined (nogo > wait > go); a node without table inputs goes with run ids 0."""
    reader_dep, lookup_dep = dependency_nodes(script, node)
    if reader_dep is None and lookup_dep is None:
        return DependencyDecision(DependencyCmd.GO, 0, 0, "no dependencies")
    policy = script.policy_of(node) if node.dependency_policy else script.default_policy
    decided = {dep: decide_node(policy, dep, entries.get(dep, ())) for dep in (reader_dep, lookup_dep) if dep}
    reader = decided[reader_dep][0].run_id if reader_dep else 0
    lookup = decided[lookup_dep][0].run_id if lookup_dep else 0
    cmd = combine([d for d, _ in decided.values()])
    return DependencyDecision(cmd, reader, lookup, "; ".join(r for _, r in decided.values()))


class DecisionCache:
    """Capillaries' dependency readiness cache (spec 5.5, 9.2): a decision for `ks/run/node` is reused for
    DECISION_TTL_S, LRU of DECISION_CACHE_SIZE entries, so the batches of a node arriving together read the
    workflow tables once. Like Go, every decision (go, wait, nogo) is cached, failed lookups are not; a `wait` is
    therefore reused for up to the TTL. `clock` is monotonic seconds, injected so the engine stays pure.
    Not thread-safe: one per batch processor, which handles one message at a time.
    """

    def __init__(
        self, clock: Callable[[], float], *, ttl_s: float = DECISION_TTL_S, max_entries: int = DECISION_CACHE_SIZE
    ) -> None:
        self._clock = clock
        self._ttl_s = ttl_s
        self._max = max_entries
        self._entries: OrderedDict[tuple[str, int, str], tuple[float, DependencyDecision]] = OrderedDict()

    def decide(self, ks: str, run_id: int, node: str, compute: Callable[[], DependencyDecision]) -> DependencyDecision:
        """The cached decision if still fresh, else `compute()` (whose errors propagate, uncached)."""
        key = (ks, run_id, node)
        hit = self._entries.get(key)
        if hit is not None and self._clock() < hit[0]:
            self._entries.move_to_end(key)
            return hit[1]
        decision = compute()
        self._entries[key] = (self._clock() + self._ttl_s, decision)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return decision
