"""Dependency-policy evaluation (spec 5.5) as a pure function of the dependency node's run history.

Before a batch runs, each dependency node's history is summarised as one `NodeRunStatus` per run that affected it.
The policy orders those entries by `event_priority_order` (Capillaries key strings, compared byte-wise) and the
first rule that holds for the first entry that matches any rule decides go/wait/nogo and which run's tables to
read. Reading the history from Cassandra is the store's job; this module only decides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from capillaries_provider.expr.compiler import compile_expr
from capillaries_provider.expr.keys import build_key
from capillaries_provider.expr.types import Value
from capillaries_provider.script.model import NRS_FIELDS, DependencyCmd, DependencyPolicy

# wf_* status codes (spec 1.11), for callers building entries.
RUN_NONE, RUN_START, RUN_COMPLETE, RUN_STOP = 0, 1, 2, 3
NODE_NONE, NODE_START, NODE_SUCCESS, NODE_FAIL, NODE_STOP_RECEIVED = 0, 1, 2, 3, 104


@dataclass(frozen=True)
class NodeRunStatus:
    """One run in which the dependency node was affected, as the `nrs` variables of the rules see it."""

    run_id: int
    run_is_current: bool
    run_status: int
    node_status: int

    def as_vars(self) -> dict[str, Value]:
        return {
            "run_id": self.run_id,
            "run_is_current": self.run_is_current,
            "run_status": self.run_status,
            "node_status": self.node_status,
        }


@dataclass(frozen=True)
class PolicyDecision:
    """What to do and which run's tables to read; `matched` False means no rule held (Go warns and waits)."""

    cmd: DependencyCmd
    run_id: int
    matched: bool = True


class PolicyChecker:
    """A dependency policy compiled once (rules -> predicates) and applied to any number of histories."""

    def __init__(self, policy: DependencyPolicy) -> None:
        self.policy = policy
        env = {"nrs": NRS_FIELDS}
        self._rules: list[tuple[DependencyCmd, Callable[..., Value]]] = [
            (rule.cmd, compile_expr(rule.expression.ast, env, round_decimals=False, allow_wfmodel=True))
            for rule in policy.rules
        ]

    def sort_key(self, entry: NodeRunStatus) -> str:
        """The entry's event_priority_order key (spec 1.7 encoding)."""
        values = entry.as_vars()
        return build_key([values[c.field] for c in self.policy.event_priority_order], self.policy.event_priority_order)

    def decide(self, entries: Sequence[NodeRunStatus]) -> PolicyDecision:
        """Spec 5.5: entries sorted by key; first (entry, rule) pair that holds wins; none -> wait on the first."""
        if not entries:
            raise ValueError("dependency node was not affected by any run: nothing to read from")
        ordered = sorted(entries, key=self.sort_key)
        for entry in ordered:
            variables = {"nrs": entry.as_vars()}
            for cmd, predicate in self._rules:
                if predicate(variables) is True:
                    return PolicyDecision(cmd, entry.run_id)
        return PolicyDecision(DependencyCmd.WAIT, ordered[0].run_id, matched=False)


def combine(decisions: Sequence[PolicyDecision]) -> DependencyCmd:
    """Reader and lookup decisions together: any nogo -> nogo, else any wait -> wait, else go (no deps -> go)."""
    cmds = {d.cmd for d in decisions}
    if DependencyCmd.NOGO in cmds:
        return DependencyCmd.NOGO
    if DependencyCmd.WAIT in cmds:
        return DependencyCmd.WAIT
    return DependencyCmd.GO
