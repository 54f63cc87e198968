"""Node graph as a standalone SVG picture (`capillaries validate --format svg`, Go's `-format=capigraph`).

Go draws with its own layout engine (capigraph); this is a plain layered drawing with no dependency on Graphviz:
a node sits one layer below its deepest parent, layers keep script order, boxes and labels are those of the dot
and Mermaid renderings. Manual nodes are dashed. Sizes are estimated from a monospace font, so the picture needs
no font metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

from capillaries_provider.script.graph import parents, topological_order
from capillaries_provider.script.model import Script, StartPolicy
from capillaries_provider.script.render import label_lines, node_edges

CHAR_W = 7.2  # 12px monospace
LINE_H = 16
PAD = 10
H_GAP = 30
V_GAP = 50
MARGIN = 20


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float
    lines: tuple[str, ...]
    dashed: bool


def layers(script: Script) -> list[list[str]]:
    """Nodes by depth (0 = reads no table), each layer in script order."""
    depth: dict[str, int] = {}
    for name in topological_order(script):
        depth[name] = 1 + max((depth[p] for p in parents(script, name)), default=-1)
    out: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for name in script.nodes:
        out[depth[name]].append(name)
    return out


def layout(script: Script) -> dict[str, Box]:
    """Box of every node: layers top to bottom, each centred on the widest one."""
    sized = {
        name: (max(len(s) for s in label_lines(n)) * CHAR_W + 2 * PAD, len(label_lines(n)) * LINE_H + PAD)
        for name, n in script.nodes.items()
    }
    rows = layers(script)
    row_w = [sum(sized[n][0] for n in row) + H_GAP * (len(row) - 1) for row in rows]
    full_w = max(row_w, default=0.0)
    boxes: dict[str, Box] = {}
    y = float(MARGIN)
    for row, w in zip(rows, row_w, strict=True):
        x = MARGIN + (full_w - w) / 2
        for name in row:
            bw, bh = sized[name]
            node = script.nodes[name]
            boxes[name] = Box(x, y, bw, bh, tuple(label_lines(node)), node.start_policy is StartPolicy.MANUAL)
            x += bw + H_GAP
        y += max(sized[n][1] for n in row) + V_GAP
    return boxes


def to_svg(script: Script) -> str:
    """The picture: edges (with their table or lookup label) under the boxes, each box titled with its node."""
    boxes = layout(script)
    width = max((b.x + b.w for b in boxes.values()), default=0.0) + MARGIN
    height = max((b.y + b.h for b in boxes.values()), default=0.0) + MARGIN
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}"'
        f' viewBox="0 0 {width:.0f} {height:.0f}" font-family="monospace" font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8"'
        ' orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
    ]
    for e in node_edges(script):
        p, c = boxes[e.parent], boxes[e.child]
        x1, y1, x2, y2 = p.x + p.w / 2, p.y + p.h, c.x + c.w / 2, c.y
        out.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#555" marker-end="url(#arrow)"/>'
        )
        out.append(f'<text x="{(x1 + x2) / 2 + 4:.1f}" y="{(y1 + y2) / 2:.1f}" fill="#555">{escape(e.label)}</text>')
    for name, b in boxes.items():
        dash = ' stroke-dasharray="5 5"' if b.dashed else ""
        out.append(f"<g><title>{escape(name)}</title>")
        out.append(
            f'<rect x="{b.x:.1f}" y="{b.y:.1f}" width="{b.w:.1f}" height="{b.h:.1f}" rx="4"'
            f' fill="#f4f7fb" stroke="#335"{dash}/>'
        )
        for i, line in enumerate(b.lines):
            weight = ' font-weight="bold"' if i == 0 else ""
            out.append(
                f'<text x="{b.x + PAD:.1f}" y="{b.y + PAD / 2 + (i + 0.8) * LINE_H:.1f}"{weight}>{escape(line)}</text>'
            )
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
