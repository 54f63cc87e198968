"""The node graph of a script: parents/children, affected nodes of a run (spec 1.13), topological order.

A node depends on the creator of the table it reads and, for lookups, on the creator of the joined table. Every
function is pure and deterministic: results follow the script's node order, never set/hash order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from capillaries_provider.script.model import Node, Script, StartPolicy


def dependency_nodes(script: Script, node: Node) -> tuple[str | None, str | None]:
    """(creator of the reader table, creator of the lookup table); None where the node has no such input."""
    reader = None
    if node.table_reader is not None:
        reader = script.table_creators.get(node.table_reader.table)
    lookup = None
    if node.lookup is not None:
        lookup = script.index_owners.get(node.lookup.index_name)
    return reader, lookup


def parents(script: Script, node_name: str) -> tuple[str, ...]:
    """Distinct dependency nodes of a node, reader first."""
    out: list[str] = []
    for p in dependency_nodes(script, script.nodes[node_name]):
        if p is not None and p not in out:
            out.append(p)
    return tuple(out)


def children(script: Script, node_name: str) -> tuple[str, ...]:
    """Nodes that read the table `node_name` creates, directly or through a lookup, in script order."""
    return tuple(n.name for n in script.nodes.values() if node_name in parents(script, n.name))


def edges(script: Script) -> list[tuple[str, str]]:
    """(parent, child) pairs in script order."""
    return [(p, n) for n in script.nodes for p in parents(script, n)]


def _child_map(script: Script) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {name: [] for name in script.nodes}
    for p, c in edges(script):
        out[p].append(c)
    return out


def affected_nodes(script: Script, start_nodes: Sequence[str]) -> tuple[str, ...]:
    """Nodes that get tables and batches in a run started at `start_nodes` (spec 1.13, Go GetAffectedNodes).

    manualSet: a node reachable from a start node is manual if its start_policy is manual, or if one of its
    parents is manual and that parent is not a start node. Go finds this by an unbounded DFS; the fixpoint
    below gives the same set without revisiting paths. affectedSet: start nodes plus everything reachable from
    them through children that are not manual. Order: start nodes, then discovery order.
    """
    unknown = [n for n in start_nodes if n not in script.nodes]
    if unknown:
        raise KeyError(f"unknown start node(s): {', '.join(unknown)}")
    kids = _child_map(script)
    start = set(start_nodes)
    reachable = _reachable(kids, start_nodes)
    manual: set[str] = set()
    changed = True
    while changed:
        changed = False
        for p in reachable:
            for c in kids[p]:
                if c in manual:
                    continue
                if (p in manual and p not in start) or script.nodes[c].start_policy is StartPolicy.MANUAL:
                    manual.add(c)
                    changed = True
    affected = list(dict.fromkeys(start_nodes))
    seen = set(affected)

    def add_children(name: str) -> None:
        for c in kids[name]:
            if c not in manual and c not in seen:
                seen.add(c)
                affected.append(c)
                add_children(c)

    for name in start_nodes:
        add_children(name)
    return tuple(affected)


def _reachable(kids: dict[str, list[str]], roots: Iterable[str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        out.append(n)
        stack.extend(kids[n])
    return out


def topological_order(script: Script) -> tuple[str, ...]:
    """All nodes, each after its dependencies; ties broken by script order (Kahn). ValueError on a cycle."""
    order_idx = {name: i for i, name in enumerate(script.nodes)}
    pending = {name: len(parents(script, name)) for name in script.nodes}
    kids = _child_map(script)
    ready = sorted((n for n, k in pending.items() if k == 0), key=order_idx.__getitem__)
    out: list[str] = []
    while ready:
        n = ready.pop(0)
        out.append(n)
        for c in kids[n]:
            pending[c] -= 1
            if pending[c] == 0:
                ready.append(c)
                ready.sort(key=order_idx.__getitem__)
    if len(out) != len(script.nodes):
        cyclic = [n for n in script.nodes if n not in out]
        raise ValueError(f"dependency cycle among nodes: {', '.join(cyclic)}")
    return tuple(out)


def find_cycle(script: Script) -> list[str] | None:
    """One dependency cycle as [a, b, ..., a], or None when the graph is acyclic."""
    kids = _child_map(script)
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        path.append(n)
        for c in kids[n]:
            if state.get(c) == 1:
                return [*path[path.index(c) :], c]
            if c not in state:
                found = visit(c)
                if found:
                    return found
        path.pop()
        state[n] = 2
        return None

    for n in script.nodes:
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None
