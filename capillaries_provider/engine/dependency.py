"""Dependency check of a batch (spec 5.5): which earlier/current run's tables a node reads, and whether it may run.

Pure: takes the `nrs` entries built from the workflow tables and the node's dependency policy, returns go/wait/nogo
with the chosen run ids. Entries are visited in `event_priority_order` key order; the first rule that is true for
an entry decides, with that entry's run id. An entry that matches no rule is skipped; no match at all -> wait.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from capillaries_provider.engine.ports import NodeRunEntry
from capillaries_provider.expr import CompiledExpr, compile_expr
from capillaries_provider.expr.keys import build_key
from capillaries_provider.expr.types import FieldType
from capillaries_provider.script.graph import dependency_nodes
from capillaries_provider.script.model import DependencyCmd, DependencyPolicy, Node, Script

NRS_FIELDS: Mapping[str, FieldType] = {
    "run_id": FieldType.INT,
    "run_is_current": FieldType.BOOL,
    "run_status": FieldType.INT,
    "node_status": FieldType.INT,
}


@dataclass(frozen=True)
class NodeDecision:
    """Decision for one dependency node: the command, the run whose table to read, and why (for comments)."""

    cmd: DependencyCmd
    run_id: int
    reason: str


@dataclass(frozen=True)
class DependencyDecision:
    """Combined decision for a batch: nogo beats wait beats go (spec 5.5)."""

    cmd: DependencyCmd
    reader_run_id: int
    lookup_run_id: int
    reason: str


_Rules = tuple[tuple[DependencyCmd, CompiledExpr, str], ...]
_RULE_CACHE: dict[tuple[str, ...], _Rules] = {}


def _compiled_rules(policy: DependencyPolicy) -> _Rules:
    """Compiled rule expressions, cached by rule text (every batch of every node evaluates the same few)."""
    key = tuple(f"{r.cmd.value}:{r.expression.text}" for r in policy.rules)
    rules = _RULE_CACHE.get(key)
    if rules is None:
        env = {"nrs": NRS_FIELDS}
        rules = tuple(
            (r.cmd, compile_expr(r.expression.ast, env, round_decimals=False, allow_wfmodel=True), r.expression.text)
            for r in policy.rules
        )
        if len(_RULE_CACHE) > 256:
            _RULE_CACHE.clear()
        _RULE_CACHE[key] = rules
    return rules


def _vars(e: NodeRunEntry) -> dict[str, object]:
    return {
        "run_id": e.run_id,
        "run_is_current": e.run_is_current,
        "run_status": int(e.run_status),
        "node_status": int(e.node_status),
    }


def decide_node(policy: DependencyPolicy, dep_node: str, entries: Sequence[NodeRunEntry]) -> NodeDecision:
    """Evaluate the policy over the entries of one dependency node."""
    rules = _compiled_rules(policy)
    order = policy.event_priority_order
    ordered = sorted(entries, key=lambda e: build_key([_vars(e)[c.field] for c in order], order))  # type: ignore[misc]
    for e in ordered:
        nrs = {"nrs": _vars(e)}
        for i, (cmd, fn, text) in enumerate(rules):
            if fn(nrs):  # type: ignore[arg-type]
                why = (
                    f"{dep_node}: rule {i} ({cmd.value}: {text}) matched run {e.run_id}"
                    f" (run_status {e.run_status.label}, node_status {e.node_status.label})"
                )
                return NodeDecision(cmd, e.run_id, why)
    first = ordered[0].run_id if ordered else 0
    return NodeDecision(DependencyCmd.WAIT, first, f"{dep_node}: no rule of policy {policy.name} matched")


def decide(script: Script, node: Node, entries: Mapping[str, Sequence[NodeRunEntry]]) -> DependencyDecision:
    """Combine reader and lookup dependency decisions; a node without table inputs always goes (run ids 0)."""
    reader_dep, lookup_dep = dependency_nodes(script, node)
    if reader_dep is None and lookup_dep is None:
        return DependencyDecision(DependencyCmd.GO, 0, 0, "no dependencies")
    policy = script.policy_of(node) if node.dependency_policy else script.default_policy
    reader = decide_node(policy, reader_dep, entries.get(reader_dep, ())) if reader_dep else None
    lookup = decide_node(policy, lookup_dep, entries.get(lookup_dep, ())) if lookup_dep else None
    decisions = [d for d in (reader, lookup) if d is not None]
    reason = "; ".join(d.reason for d in decisions)
    if any(d.cmd is DependencyCmd.NOGO for d in decisions):
        cmd = DependencyCmd.NOGO
    elif any(d.cmd is DependencyCmd.WAIT for d in decisions):
        cmd = DependencyCmd.WAIT
    else:
        cmd = DependencyCmd.GO
    return DependencyDecision(cmd, reader.run_id if reader else 0, lookup.run_id if lookup else 0, reason)
