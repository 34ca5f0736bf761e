"""The status tree and the wait progress, from object bodies (pure logic, no cluster)."""

from __future__ import annotations

import json
from typing import Any

from nylas_operator.api import conditions as c
from nylas_operator.controllers import consent as controller_consent
from nylas_operator.controllers import flow
from nylas_operator.plugin import progress, render, tree


def body(
    kind: str,
    name: str,
    phase: str | None,
    reason: str = "",
    message: str = "",
    *,
    ns: str = "ns",
    ref: str = "",
    generation: int = 1,
    observed: int | None = 1,
    **status: Any,
) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if kind == tree.CREDENTIAL:
        spec = {"connectorRef": {"name": ref}, "type": "adminconsent"}
    elif kind == tree.GRANT:
        spec = {"credentialRef": {"name": ref}, "email": f"{name}@example.com"}
    out: dict[str, Any] = {
        "kind": kind,
        "metadata": {"name": name, "namespace": ns, "generation": generation},
        "spec": spec,
    }
    if phase is not None:
        ready = "True" if phase == "Ready" else "False"
        out["status"] = {
            "phase": phase,
            "conditions": [c.make_condition(c.READY, ready, reason or phase, message)],
            **({"observedGeneration": observed} if observed is not None else {}),
            **status,
        }
    return out


def test_the_annotations_are_the_operators() -> None:
    assert tree.ADMIN_CONSENT_ANNOTATION == controller_consent.ADMIN_CONSENT_ANNOTATION
    assert tree.PAUSED_ANNOTATION == flow.PAUSED_ANNOTATION


def test_the_tree_groups_by_reference_and_keeps_orphans() -> None:
    roots = tree.build(
        [body(tree.CONNECTOR, "ms", "Ready"), body(tree.CONNECTOR, "other", "Ready", ns="b")],
        [
            body(tree.CREDENTIAL, "contoso", "AwaitingConsent", "AwaitingConsent", "open it", ref="ms"),
            body(tree.CREDENTIAL, "lost", "Pending", "ConnectorNotFound", "no ms2", ref="ms2"),
        ],
        [
            body(tree.GRANT, "alice", "AwaitingConsent", "CredentialNotReady", "waits", ref="contoso"),
            body(tree.GRANT, "bob", "Pending", "CredentialNotFound", "no such", ref="gone"),
        ],
    )
    shape = [
        (
            r.namespace,
            r.kind,
            r.name,
            r.missing,
            [(ch.name, [g.name for g in ch.children]) for ch in r.children],
        )
        for r in roots
    ]
    assert shape == [
        ("b", tree.CONNECTOR, "other", False, []),
        ("ns", tree.CONNECTOR, "ms", False, [("contoso", ["alice"])]),
        ("ns", tree.CONNECTOR, "ms2", True, [("lost", [])]),
        ("ns", tree.CREDENTIAL, "gone", True, [("bob", [])]),
    ]
    contoso = roots[1].children[0]
    assert contoso.next_steps == (
        "a tenant administrator opens the consent URL: kubectl nylas consent-url contoso -n ns",
        "if they already consented elsewhere: kubectl nylas approve contoso -n ns",
    )
    # A grant waiting on consent points at its credential, not at itself.
    assert "consent-url contoso -n ns" in contoso.children[0].next_steps[0]


def test_next_steps_by_state() -> None:
    def steps(*args: Any, **kw: Any) -> tuple[str, ...]:
        return tree.next_steps(tree.GRANT, body(tree.GRANT, "g", *args, ref="cred", **kw))

    assert steps("Ready") == ()
    assert "operator running" in steps(None)[0]
    assert "operator running" in steps("Ready", generation=2, observed=1)[0]
    assert steps("ConsentSettling", "ConsentSettling", eligibleAt="2025-01-01T12:05:00Z") == (
        "nothing to do: Microsoft caches permissions; the grant is created after 2025-01-01T12:05:00Z",
    )
    assert "nylas-operator.io/paused-" in steps("Paused", "Paused")[0]
    assert "region" in steps("Pending", "Unauthorized", "401")[0]
    assert "retries" in steps("Creating", "RateLimited")[0]
    assert steps("SomethingNew", "Whatever") == ("kubectl describe serviceaccountgrant g -n ns",)


def test_a_stale_status_is_not_ready() -> None:
    phase, reason, _, ready = tree.state(body(tree.GRANT, "g", "Ready", generation=3, observed=2))
    assert (phase, reason, ready) == ("Ready", "NotObserved", False)


def test_render_aligns_and_shows_next_steps_under_waiting_objects() -> None:
    roots = tree.build(
        [body(tree.CONNECTOR, "ms", "Ready", "Available", "connector ok")],
        [body(tree.CREDENTIAL, "contoso", "AwaitingConsent", "AwaitingConsent", "open it", ref="ms")],
        [
            body(tree.GRANT, "alice", "AwaitingConsent", "AwaitingConsent", "waits", ref="contoso"),
            body(tree.GRANT, "bob", "Ready", ref="contoso"),
        ],
    )
    text = render.tree(roots, all_namespaces=False)
    lines = text.splitlines()
    assert lines[0].split() == ["NylasConnector/ms", "Ready"]  # a Ready object shows no message
    assert lines[1].startswith("└── NylasCredential/contoso")
    assert "AwaitingConsent: open it" in lines[1]
    assert lines[2].startswith("    │   → a tenant administrator opens the consent URL")
    assert any(line.startswith("    ├── ServiceAccountGrant/alice") for line in lines)
    assert lines[-1].startswith("    └── ServiceAccountGrant/bob")
    # The phase column starts at the same place on every object line.
    columns = {line.index(" Ready") if "bob" in line or "/ms" in line else None for line in lines}
    assert len(columns - {None}) == 1
    assert render.tree(roots, all_namespaces=True).startswith("Namespace ns\n")


def test_progress_counts_and_failures() -> None:
    grants = [
        body(tree.GRANT, "a", "Ready"),
        body(tree.GRANT, "b", "ConsentSettling", eligibleAt="2025-01-01T12:05:00Z"),
        body(tree.GRANT, "c", "ConsentSettling", eligibleAt="2025-01-01T12:04:00Z"),
        body(tree.GRANT, "d", "AwaitingConsent"),
        body(tree.GRANT, "e", "Ready", generation=2, observed=1),
    ]
    now = progress.summarize(grants)
    assert not now.done
    assert now.line() == (
        "1/5 Ready, 2 ConsentSettling, 1 AwaitingConsent, 1 NotObserved "
        "(next grant eligible at 2025-01-01T12:04:00Z)"
    )
    assert now.failed == ()
    failed = progress.summarize([body(tree.GRANT, "f", "Failed", "ScopesRequired", "set scopes")])
    assert failed.failed == (("ns/f", "ScopesRequired", "set scopes"),)
    assert progress.summarize([body(tree.GRANT, "a", "Ready")]).done
    assert not progress.summarize([]).done


def test_not_ready_keeps_what_needs_attention_and_its_parents() -> None:
    roots = tree.build(
        [body(tree.CONNECTOR, "ms", "Ready"), body(tree.CONNECTOR, "done", "Ready")],
        [
            body(tree.CREDENTIAL, "contoso", "Ready", ref="ms"),
            body(tree.CREDENTIAL, "ok", "Ready", ref="done"),
        ],
        [
            body(tree.GRANT, "alice", "Ready", ref="contoso"),
            body(tree.GRANT, "bob", "Failed", "ScopesRequired", ref="contoso"),
            body(tree.GRANT, "carol", "Ready", ref="ok"),
        ],
    )
    kept = tree.not_ready(roots)
    assert [(r.name, [(c.name, [g.name for g in c.children]) for c in r.children]) for r in kept] == [
        ("ms", [("contoso", ["bob"])])
    ]


def test_json_output_is_the_same_tree() -> None:
    roots = tree.build(
        [body(tree.CONNECTOR, "ms", "Ready")],
        [body(tree.CREDENTIAL, "contoso", "AwaitingConsent", "AwaitingConsent", "open it", ref="ms")],
        [],
    )
    [connector] = json.loads(render.as_json(roots))
    assert (connector["kind"], connector["name"], connector["ready"], connector["nextSteps"]) == (
        tree.CONNECTOR,
        "ms",
        True,
        [],
    )
    [credential] = connector["children"]
    assert credential["phase"] == "AwaitingConsent"
    assert credential["nextSteps"][0].endswith("kubectl nylas consent-url contoso -n ns")
    assert json.loads(render.as_json([])) == []
