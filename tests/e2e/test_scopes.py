"""A scope set changed after consent (scenario 6 of issue 4): new consent URL, new approval, new wait.

A Microsoft credential for a specific tenant can ask for custom scopes. A grant that was Ready with
the default set gets custom scopes (and a new grant with the same scopes is added): the credential
gets a second consent record (one per scope set) with its own URL, both grants wait for it, and the
grant is re-authenticated only after the new approval plus the scope-cache delay.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from e2e import kube as k
from e2e.test_microsoft import OPERATOR_DELAY

pytestmark = pytest.mark.cluster

TENANT = "contoso-tenant-id"
CUSTOM = ["Calendars.Read", "Mail.Read"]


def objects(emu: Any, **credential_spec: Any) -> list[dict[str, Any]]:
    return [
        k.secret(k.API_KEY_SECRET, {"apiKey": emu.api_key}),
        k.secret(k.AZURE_SECRET, {"clientSecret": k.AZURE_CLIENT_SECRET}),
        k.connector("microsoft", emu, "microsoft"),
        k.credential(
            "contoso", "microsoft", "adminconsent", adminConsent={"tenant": TENANT}, **credential_spec
        ),
        k.grant("alice", "contoso", "alice@contoso.example"),
    ]


def consent_auth_times(emu: Any) -> list[float]:
    return [e.time for e in emu.journal() if e.path == "/v3/connect/auth" and e.status == 302]


def custom_auths(emu: Any, email: str, after: float = 0.0) -> list[Any]:
    return [
        e
        for e in emu.journal()
        if e.method == "POST" and e.path == "/v3/connect/custom" and e.email == email and e.time >= after
    ]


def credential_status(kubectl: k.Kubectl, ns: str) -> dict[str, Any]:
    return dict((k.get(kubectl, ns, "nylascredential", "contoso") or {}).get("status") or {})


def consent_and_wait_ready(kubectl: k.Kubectl, ns: str, url: str, *grants: str) -> None:
    assert httpx.get(url, follow_redirects=True, timeout=10).status_code == 200
    for name in grants:
        k.wait_condition(kubectl, ns, "serviceaccountgrant", name, "Ready", timeout=60)


def custom_set_pending(kubectl: k.Kubectl, ns: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(default record, custom record) once the credential asks for the custom set."""
    records = credential_status(kubectl, ns).get("consent") or []
    by_scopes = {tuple(r.get("scopes") or ()): r for r in records}
    custom = by_scopes.get(tuple(CUSTOM))
    if len(records) == 2 and custom and custom.get("consentUrl"):
        return by_scopes[()], custom
    return None


def test_changed_scopes_need_a_new_consent_and_a_new_wait(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any
) -> None:
    k.apply(kubectl, namespace, objects(emulator))
    default_url = k.eventually(
        lambda: credential_status(kubectl, namespace).get("consentUrl"),
        timeout=60,
        what="the default consent URL",
    )
    consent_and_wait_ready(kubectl, namespace, default_url, "alice")
    first = k.get(kubectl, namespace, "serviceaccountgrant", "alice")
    assert first is not None
    grant_id = first["status"]["grantId"]
    assert len(custom_auths(emulator, "alice@contoso.example")) == 1

    # alice asks for custom scopes; bob is added with the same set.
    k.apply(
        kubectl,
        namespace,
        [
            k.grant("alice", "contoso", "alice@contoso.example", scopes=CUSTOM),
            k.grant("bob", "contoso", "bob@contoso.example", scopes=CUSTOM),
        ],
    )
    default, custom = k.eventually(
        lambda: custom_set_pending(kubectl, namespace), timeout=30, what="a consent record for the custom set"
    )
    assert default["grantedAt"] and custom["scopeSet"] != default["scopeSet"] and "grantedAt" not in custom
    url = custom["consentUrl"]
    query = parse_qs(urlsplit(url).query)
    assert sorted(query["scope"][0].split()) == CUSTOM
    assert query["state"][0] != parse_qs(urlsplit(default_url).query)["state"][0]
    for name, authenticated in (("alice", default["scopeSet"]), ("bob", None)):
        waiting = k.wait_condition(
            kubectl,
            namespace,
            "serviceaccountgrant",
            name,
            "ConsentGranted",
            "False",
            reason="AwaitingConsent",
        )
        assert waiting["status"]["phase"] == "AwaitingConsent"
        assert "consentUrl" not in waiting["status"]  # only the credential shows it
        assert waiting["status"].get("scopeSet") == authenticated  # what the Nylas grant has today
    assert len(custom_auths(emulator, "alice@contoso.example")) == 1  # nothing before the new approval
    assert custom_auths(emulator, "bob@contoso.example") == []

    consent_and_wait_ready(kubectl, namespace, url, "alice", "bob")
    approved = max(consent_auth_times(emulator))
    for email in ("alice@contoso.example", "bob@contoso.example"):
        after = custom_auths(emulator, email, after=approved)
        assert after and all(e.time >= approved + OPERATOR_DELAY for e in after), f"{email} not waited for"
        assert after[-1].status is not None and after[-1].status < 300
    alice = k.get(kubectl, namespace, "serviceaccountgrant", "alice")
    assert alice is not None and alice["status"]["grantId"] == grant_id  # re-authenticated, same grant
    assert alice["status"]["scopeSet"] == custom["scopeSet"]
    assert sorted(g["email"] for g in emulator.state()["grants"]) == [
        "alice@contoso.example",
        "bob@contoso.example",
    ]


def test_reauth_refused_while_propagating_is_retried_not_skipped(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any
) -> None:
    """The operator's wait (1 s here) is shorter than Microsoft's cache (4 s): the first re-auth is
    refused, and the grant must not turn Ready before a re-auth succeeds."""
    k.apply(kubectl, namespace, objects(emulator, scopeCacheDelay="1s"))
    default_url = k.eventually(
        lambda: credential_status(kubectl, namespace).get("consentUrl"),
        timeout=60,
        what="the default consent URL",
    )
    consent_and_wait_ready(kubectl, namespace, default_url, "alice")
    emulator.configure(scope_cache_delay=4.0)
    k.apply(kubectl, namespace, [k.grant("alice", "contoso", "alice@contoso.example", scopes=CUSTOM)])
    _, custom = k.eventually(
        lambda: custom_set_pending(kubectl, namespace), timeout=30, what="a consent record for the custom set"
    )
    k.wait_condition(kubectl, namespace, "serviceaccountgrant", "alice", "Ready", "False", timeout=30)
    consent_and_wait_ready(kubectl, namespace, custom["consentUrl"], "alice")
    approved = max(consent_auth_times(emulator))
    after = custom_auths(emulator, "alice@contoso.example", after=approved)
    assert any(e.status is not None and e.status >= 400 for e in after), "expected a refused first re-auth"
    ok = [e for e in after if e.status is not None and e.status < 300]
    assert ok and ok[-1].time >= approved + 4.0, "Ready without a successful re-auth after the new consent"
