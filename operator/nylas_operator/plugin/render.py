"""The status tree as text for the terminal (aligned columns, tree guides) or JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

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


def as_json(roots: Sequence[Node]) -> str:
    """The tree for scripts: nested objects with camelCase keys, as Kubernetes writes them."""

    def one(node: Node) -> dict[str, Any]:
        return {
            "kind": node.kind,
            "namespace": node.namespace,
            "name": node.name,
            "phase": node.phase,
            "reason": node.reason,
            "message": node.message,
            "ready": node.ready,
            "missing": node.missing,
            "nextSteps": list(node.next_steps),
            "children": [one(child) for child in node.children],
        }

    return json.dumps([one(root) for root in roots], indent=2) + "\n"
