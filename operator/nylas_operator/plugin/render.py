"""Text for the terminal: the status tree (aligned columns, tree guides) and empty-result notes."""

from __future__ import annotations

from collections.abc import Sequence

from nylas_operator.plugin.tree import Node

MAX_MESSAGE = 160  # a long Nylas message would wrap the tree; `kubectl describe` has it all


def _lines(node: Node, lead: str, branch: str, below: str) -> list[tuple[str, str, str, list[str]]]:
    """(left column, phase, detail, next-step lines) for ``node`` and its subtree."""
    detail = node.reason if node.reason and not node.message else node.message
    if node.reason and node.message and node.reason not in ("NoStatus", "NotObserved", "NotFound"):
        detail = f"{node.reason}: {node.message}"
    if len(detail) > MAX_MESSAGE:
        detail = detail[: MAX_MESSAGE - 1] + "…"
    if node.ready:
        detail = ""
    guide = lead + below + ("│   " if node.children else "    ")
    steps = [f"{guide}→ {step}" for step in node.next_steps]
    out = [(f"{lead}{branch}{node.kind}/{node.name}", node.phase, detail, steps)]
    for i, child in enumerate(node.children):
        last = i == len(node.children) - 1
        out += _lines(child, lead + below, "└── " if last else "├── ", "    " if last else "│   ")
    return out


def tree(roots: Sequence[Node], *, all_namespaces: bool) -> str:
    if not roots:
        return ""
    rows: list[tuple[str, str, str, list[str]]] = []
    namespace: str | None = None
    blocks: list[tuple[str | None, list[tuple[str, str, str, list[str]]]]] = []
    for root in roots:
        if root.namespace != namespace:
            namespace = root.namespace
            blocks.append((namespace, []))
        blocks[-1][1].extend(_lines(root, "", "", ""))
    rows = [row for _, block in blocks for row in block]
    width = max(len(left) for left, _, _, _ in rows) + 2
    phase_width = max(len(phase) for _, phase, _, _ in rows) + 2
    out: list[str] = []
    for ns, block in blocks:
        if all_namespaces:
            out.append(f"Namespace {ns}")
        for left, phase, detail, steps in block:
            out.append(f"{left:<{width}}{phase:<{phase_width}}{detail}".rstrip())
            out.extend(steps)
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
