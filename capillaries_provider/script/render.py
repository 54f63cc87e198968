"""Node graph as Graphviz dot or Mermaid text (the `capillaries validate --format` outputs).

Each box shows the node name, its type and what it writes (table or file); each edge is labelled with the table
the child reads or the index it looks up. Manual nodes are dashed: they only run when started explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

from capillaries_provider.script.model import Node, Script, StartPolicy


@dataclass(frozen=True)
class Edge:
    parent: str
    child: str
    label: str


def node_edges(script: Script) -> list[Edge]:
    """Reader and lookup edges, in script order."""
    out: list[Edge] = []
    for node in script.nodes.values():
        if node.table_reader is not None and node.table_reader.table in script.table_creators:
            out.append(Edge(script.table_creators[node.table_reader.table], node.name, node.table_reader.table))
        if node.lookup is not None and node.lookup.index_name in script.index_owners:
            out.append(Edge(script.index_owners[node.lookup.index_name], node.name, f"lookup {node.lookup.index_name}"))
    return out


def label_lines(node: Node) -> list[str]:
    """Box text of a node: name, type (with custom processor), what it writes."""
    kind = node.type.value + (f" ({node.custom_proc_type})" if node.custom_processor is not None else "")
    lines = [node.name, kind]
    if node.table_creator is not None:
        lines.append(f"table {node.table_creator.name}")
    if node.file_creator is not None:
        lines.append(f"file {node.file_creator.url_template}")
    return lines


def _dot_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(script: Script) -> str:
    """Graphviz digraph of the script."""
    lines = ["digraph script {", "  rankdir=TB;", '  node [shape=box, fontname="Helvetica"];']
    for node in script.nodes.values():
        label = "\\n".join(s.replace("\\", "\\\\").replace('"', '\\"') for s in label_lines(node))
        style = ", style=dashed" if node.start_policy is StartPolicy.MANUAL else ""
        lines.append(f'  {_dot_quote(node.name)} [label="{label}"{style}];')
    for e in node_edges(script):
        lines.append(f"  {_dot_quote(e.parent)} -> {_dot_quote(e.child)} [label={_dot_quote(e.label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_text(s: str) -> str:
    return s.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def to_mermaid(script: Script) -> str:
    """Mermaid flowchart of the script (ids are n0, n1... because node names may start with digits)."""
    ids = {name: f"n{i}" for i, name in enumerate(script.nodes)}
    lines = ["flowchart TD"]
    for node in script.nodes.values():
        label = "<br/>".join(_mermaid_text(s) for s in label_lines(node))
        lines.append(f'  {ids[node.name]}["{label}"]')
        if node.start_policy is StartPolicy.MANUAL:
            lines.append(f"  style {ids[node.name]} stroke-dasharray: 5 5")
    for e in node_edges(script):
        lines.append(f'  {ids[e.parent]} -->|"{_mermaid_text(e.label)}"| {ids[e.child]}')
    return "\n".join(lines) + "\n"
