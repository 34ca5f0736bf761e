"""The Argo CD health Lua in gopher-lua, the engine Argo CD runs, set up as Argo CD sets it up.

lupa (test_argocd_health.py) is the reference Lua 5.1 from PUC-Rio; gopher-lua is a separate Go
implementation with its own gaps, and Argo CD opens only the base, table and package libraries for a
health customization. Every case judged in lupa is judged again here and must agree.
"""

from __future__ import annotations

import copy
from pathlib import Path

from harness import gotools
from unit.argocd.argocd_lua import HEALTH_LUA, KINDS, evaluate, load_captured
from unit.argocd.test_argocd_health import CASES, obj


def test_gopher_lua_agrees_with_lupa_on_every_case() -> None:
    bodies = [obj(kind, status=copy.deepcopy(status)) for kind in KINDS for _, status, _, _ in CASES]
    expected = [(health, text) for _ in KINDS for _, _, health, text in CASES]
    verdicts = gotools.gopher_lua(HEALTH_LUA, bodies)
    for body, verdict, (health, text) in zip(bodies, verdicts, expected, strict=True):
        assert "error" not in verdict, (body, verdict)
        assert verdict["status"] == health, (body.get("status"), verdict)
        assert text.lower() in verdict["message"].lower()
        reference = evaluate(body)
        assert (verdict["status"], verdict["message"]) == (reference.status, reference.message)


def test_captured_live_objects_in_gopher_lua() -> None:
    captured = list(load_captured())
    assert captured, "tests/fixtures/captured holds the statuses captured from the live test"
    verdicts = gotools.gopher_lua(HEALTH_LUA, [item.obj for item in captured])
    for item, verdict in zip(captured, verdicts, strict=True):
        assert verdict.get("status") == item.expected, (item.name, verdict)


def test_the_harness_opens_only_what_argo_cd_opens(tmp_path: Path) -> None:
    # A health script calling string.* works in lupa but not in Argo CD: the harness must say so,
    # or the agreement above would prove nothing about the libraries the chart's script relies on.
    script = tmp_path / "uses-string.lua"
    script.write_text('return {status = string.upper("healthy"), message = "x"}\n')
    assert evaluate({}, script.read_text()).status == "HEALTHY"
    [verdict] = gotools.gopher_lua(script, [{}])
    assert "string" in verdict.get("error", ""), verdict
    # And an unknown status code is turned into Unknown, as Argo CD does.
    script.write_text('return {status = "Fine", message = "x"}\n')
    [verdict] = gotools.gopher_lua(script, [{}])
    assert verdict == {"status": "Unknown", "message": "Lua returned an invalid health status"}
