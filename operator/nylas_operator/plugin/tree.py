"""Pure: the connector → credential → grant tree, each object's state and what to do next.

Owns: grouping objects by their references (same namespace), placeholders for references to
objects that do not exist, and the "next" hints: one or two commands or facts per waiting or
failed object, from its phase and the Ready condition's reason. Does not own: fetching (``client``)
or layout (``render``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from nylas_operator.api import conditions as c

ADMIN_CONSENT_ANNOTATION: Final = "nylas-operator.io/admin-consent"
PAUSED_ANNOTATION: Final = "nylas-operator.io/paused"
CONNECTOR, CREDENTIAL, GRANT = "NylasConnector", "NylasCredential", "ServiceAccountGrant"
_RESOURCE = {CONNECTOR: "nylasconnector", CREDENTIAL: "nylascredential", GRANT: "serviceaccountgrant"}
_RETRIED = "nothing to do: the operator retries by itself"


@dataclass(frozen=True)
class Node:
    kind: str
    namespace: str
    name: str
    phase: str
    reason: str = ""
    message: str = ""
    ready: bool = False
    missing: bool = False
    """A reference to an object that does not exist (shown so its children are not lost)."""
    next_steps: tuple[str, ...] = ()
    children: tuple[Node, ...] = field(default=())


def state(body: Mapping[str, Any]) -> tuple[str, str, str, bool]:
    """(phase, reason, message, ready) as a reader should take them: a status written for an older
    generation says nothing about the current spec."""
    status = body.get("status") or {}
    generation = (body.get("metadata") or {}).get("generation")
    ready = c.find_condition(status.get("conditions"), c.READY) or {}
    if not status:
        return "Unknown", "NoStatus", "the operator has not reported on this object yet", False
    if generation is not None and status.get("observedGeneration") not in (None, generation):
        return (
            str(status.get("phase") or "Unknown"),
            "NotObserved",
            f"generation {generation} is not handled yet (status is for {status.get('observedGeneration')})",
            False,
        )
    phase = str(status.get("phase") or "Unknown")
    is_ready = ready.get("status") == "True" and phase in (c.PHASE_READY, "Unknown")
    return phase, str(ready.get("reason") or ""), str(ready.get("message") or ""), is_ready


def next_steps(kind: str, body: Mapping[str, Any]) -> tuple[str, ...]:
    """What a person can do about this object now (empty when it is Ready)."""
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    name, ns = str(meta.get("name")), str(meta.get("namespace"))
    phase, reason, _, ready = state(body)
    resource = _RESOURCE[kind]
    if ready:
        return ()
    if reason == "NoStatus" or reason == "NotObserved":
        return ("is the operator running? kubectl get pods -A -l app.kubernetes.io/name=nylas-operator",)
    if phase == c.PAUSED:
        return (f"paused; to resume: kubectl annotate {resource} {name} -n {ns} {PAUSED_ANNOTATION}-",)
    credential = str((spec.get("credentialRef") or {}).get("name") or "")
    if phase == c.AWAITING_CONSENT or reason == c.Reason.AWAITING_CONSENT:
        if kind != CREDENTIAL:  # one line per grant: the credential above says the rest
            return (
                f"waits for admin consent on {credential}: kubectl nylas consent-url {credential} -n {ns}",
            )
        return (
            f"a tenant administrator opens the consent URL: kubectl nylas consent-url {name} -n {ns}",
            f"if they already consented elsewhere: kubectl nylas approve {name} -n {ns}",
        )
    if phase == c.CONSENT_SETTLING or reason == c.Reason.CONSENT_SETTLING:
        when = status.get("eligibleAt") or status.get("settledAt")
        after = f" after {when}" if when else ""
        return (f"nothing to do: Microsoft caches permissions; the grant is created{after}",)
    hints: dict[str, str] = {
        c.Reason.CONNECTOR_NOT_READY: "waits for its NylasConnector (above)",
        c.Reason.CREDENTIAL_NOT_READY: "waits for its NylasCredential (above)",
        c.Reason.CONNECTOR_NOT_FOUND: "create the NylasConnector of spec.connectorRef, or fix it",
        c.Reason.CREDENTIAL_NOT_FOUND: "create the NylasCredential of spec.credentialRef, or fix it",
        c.Reason.SECRET_NOT_FOUND: f"create the Secret named in the message in namespace {ns}",
        c.Reason.SECRET_KEY_NOT_FOUND: "add the key named in the message to that Secret",
        c.Reason.INVALID_SERVICE_ACCOUNT_KEY: "put the service account's JSON key in the Secret",
        c.Reason.UNAUTHORIZED: "check the API key Secret and that the connector's region matches the key",
        c.Reason.FORBIDDEN: "Nylas refused: check the application's permissions and plan",
        c.Reason.CONFLICT: "another object owns this in Nylas: delete or rename one of them",
        c.Reason.WRONG_PROVIDER: "point spec.connectorRef at a connector of the matching provider",
        c.Reason.SCOPES_REQUIRED: "set spec.scopes (or the connector's default scopes)",
        c.Reason.CUSTOM_SCOPES_NEED_TENANT: "set the credential's spec.adminConsent.tenant",
        c.Reason.CONSENT_DENIED: f"refused; a new URL: kubectl nylas consent-url {name} -n {ns}",
        c.Reason.NYLAS_REJECTED: "Nylas rejected the request: change the spec as the message says",
        c.Reason.IN_USE: "deletion waits until the objects that use it are deleted",
        c.Reason.GRANT_INVALID: "the operator re-authenticates it; if it stays, check consent and scopes",
        c.Reason.GRANT_MISSING: "the operator re-creates the grant; if it stays, check the credential",
        c.Reason.RATE_LIMITED: _RETRIED,
        c.Reason.NYLAS_UNAVAILABLE: _RETRIED,
        c.Reason.CREATING: _RETRIED,
    }
    if reason in hints:
        return (hints[reason],)
    return (f"kubectl describe {resource} {name} -n {ns}",)


def _node(kind: str, body: Mapping[str, Any], children: Sequence[Node] = ()) -> Node:
    meta = body.get("metadata") or {}
    phase, reason, message, ready = state(body)
    return Node(
        kind=kind,
        namespace=str(meta.get("namespace")),
        name=str(meta.get("name")),
        phase=phase,
        reason=reason,
        message=message,
        ready=ready,
        next_steps=next_steps(kind, body),
        children=tuple(children),
    )


def _missing(kind: str, namespace: str, name: str, children: Sequence[Node]) -> Node:
    return Node(
        kind=kind,
        namespace=namespace,
        name=name,
        phase="NotFound",
        reason="NotFound",
        message=f"referenced by the objects below but not found in namespace {namespace}",
        missing=True,
        next_steps=(f"create {kind} {name} in {namespace}, or fix the references below",),
        children=tuple(children),
    )


def _key(body: Mapping[str, Any]) -> tuple[str, str]:
    meta = body.get("metadata") or {}
    return str(meta.get("namespace")), str(meta.get("name"))


def _ref(body: Mapping[str, Any], field_name: str) -> tuple[str, str]:
    ref = (body.get("spec") or {}).get(field_name) or {}
    return _key(body)[0], str(ref.get("name") or "")


def build(
    connectors: Iterable[Mapping[str, Any]],
    credentials: Iterable[Mapping[str, Any]],
    grants: Iterable[Mapping[str, Any]],
) -> list[Node]:
    """Root nodes, sorted by namespace and name: connectors, then placeholders for missing
    connectors and for missing credentials (with the objects that reference them)."""
    grants_of: dict[tuple[str, str], list[Node]] = {}
    for grant in sorted(grants, key=_key):
        grants_of.setdefault(_ref(grant, "credentialRef"), []).append(_node(GRANT, grant))
    creds_of: dict[tuple[str, str], list[Node]] = {}
    known_creds: set[tuple[str, str]] = set()
    for cred in sorted(credentials, key=_key):
        known_creds.add(_key(cred))
        node = _node(CREDENTIAL, cred, grants_of.get(_key(cred), []))
        creds_of.setdefault(_ref(cred, "connectorRef"), []).append(node)
    orphans: dict[str, list[Node]] = {}
    for (ns, cred_name), children in grants_of.items():
        if (ns, cred_name) not in known_creds:
            orphans.setdefault(ns, []).append(_missing(CREDENTIAL, ns, cred_name, children))
    roots: list[Node] = []
    known_connectors: set[tuple[str, str]] = set()
    for conn in sorted(connectors, key=_key):
        known_connectors.add(_key(conn))
        roots.append(_node(CONNECTOR, conn, creds_of.get(_key(conn), [])))
    for (ns, conn_name), children in sorted(creds_of.items()):
        if (ns, conn_name) not in known_connectors:
            roots.append(_missing(CONNECTOR, ns, conn_name, children))
    for missing_creds in orphans.values():
        roots.extend(missing_creds)  # grants whose credential is missing: the placeholder is a root
    return sorted(roots, key=lambda n: (n.namespace, n.missing, n.kind, n.name))


def not_ready(roots: Sequence[Node]) -> list[Node]:
    """Only what needs attention: objects not Ready, with their Ready ancestors for context."""
    out: list[Node] = []
    for node in roots:
        children = not_ready(node.children)
        if children or not node.ready:
            out.append(replace(node, children=tuple(children)))
    return out
