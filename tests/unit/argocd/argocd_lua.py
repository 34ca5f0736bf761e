"""Runs the chart's Argo CD health Lua the way Argo CD does, and loads captured objects.

Owns: the Lua 5.1 runtime (lupa), the `obj` global / returned `hs` table contract, reading
captured status objects (`tests/fixtures/captured/*.json`) and the phase -> health contract used
to judge objects that carry no expectation of their own. Does not own the Lua (the chart's
`files/argocd/health.lua`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:  # Argo CD embeds gopher-lua, a Lua 5.1: prefer lupa's 5.1 build when it is there.
    from lupa.lua51 import LuaRuntime
except ImportError:  # pragma: no cover - depends on the lupa wheel
    from lupa import LuaRuntime

ROOT = Path(__file__).resolve().parents[3]
HEALTH_LUA = ROOT / "charts" / "nylas-operator" / "files" / "argocd" / "health.lua"
CAPTURED_DIR = ROOT / "tests" / "fixtures" / "captured"
KINDS = ("NylasConnector", "NylasCredential", "ServiceAccountGrant")
GROUP = "nylas-operator.io"


@dataclass(frozen=True)
class Health:
    status: str
    message: str


def _to_lua(lua: Any, value: Any) -> Any:
    # Argo CD hands the script plain tables converted from JSON; nil for absent keys.
    if isinstance(value, Mapping):
        return lua.table_from({k: _to_lua(lua, v) for k, v in value.items()})
    if isinstance(value, list):
        return lua.table_from([_to_lua(lua, v) for v in value])
    return value


def evaluate(obj: Mapping[str, Any], script: str | None = None) -> Health:
    """Run the health script with `obj` as Argo CD does; return hs.status and hs.message."""
    lua = LuaRuntime(unpack_returned_tuples=False)
    lua.globals().obj = _to_lua(lua, obj)
    hs = lua.execute(script if script is not None else HEALTH_LUA.read_text(encoding="utf-8"))
    if hs is None:
        raise AssertionError("the health script returned nothing")
    status = hs["status"]
    message = hs["message"]
    return Health(status=str(status), message="" if message is None else str(message))


def expected_health(obj: Mapping[str, Any]) -> str:
    """The contract of issue 5, stated as a table (an oracle, not a second implementation)."""
    status = obj.get("status") or {}
    generation = (obj.get("metadata") or {}).get("generation")
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    observed = status.get("observedGeneration", (ready or {}).get("observedGeneration"))
    if not status or (generation is not None and (observed is None or observed < generation)):
        return "Progressing"
    phase = status.get("phase")
    by_phase = {
        "Failed": "Degraded",
        "Degraded": "Degraded",
        "AwaitingConsent": "Suspended",
        "Paused": "Suspended",
        "Pending": "Progressing",
        "ConsentSettling": "Progressing",
        "Creating": "Progressing",
        "Deleting": "Progressing",
    }
    reason = (ready or {}).get("reason")
    if reason in ("Unauthorized", "Conflict"):
        return "Degraded"  # a person must act, whatever the phase says
    if phase in by_phase:
        return by_phase[phase]
    if phase == "Ready" and ready is not None and ready.get("status") == "True":
        return "Healthy"
    raise ValueError(f"no contract for phase {phase!r} with Ready={ready!r}")


@dataclass(frozen=True)
class Captured:
    name: str
    obj: dict[str, Any]
    expected: str


def load_captured(directory: Path = CAPTURED_DIR) -> Iterator[Captured]:
    """Captured objects: `{"expected": ..., "object": {...}}` or a bare object (judged by phase)."""
    if not directory.is_dir():
        return
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        obj = data.get("object", data)
        expected = data.get("expected") if "object" in data else None
        yield Captured(name=path.stem, obj=obj, expected=expected or expected_health(obj))
