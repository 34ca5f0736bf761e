"""The claims index: fed by watch events only, read by reconciles (one connector per application
and provider, one grant per application and email, the drift loop's Ready grants)."""

from __future__ import annotations

from typing import Any

from nylas_operator.controllers.claims import (
    Claimant,
    Claims,
    claim_token,
    connector_claimant,
    connector_key,
    grant_claimant,
)
from nylas_operator.controllers.clients import AppKey, app_key_of
from nylas_operator.controllers.lifecycle import known_grants
from nylas_operator.kube import CONNECTORS, CREDENTIALS, GRANTS


def connector(name: str, client_id: str = "app", **status: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": "ns",
            "name": name,
            "uid": f"c-{name}",
            "creationTimestamp": "2030-01-01T00:00:00Z",
        },
        "spec": {
            "provider": "microsoft",
            "application": {"apiKeySecretRef": {"name": "k", "key": "k"}, "clientId": client_id},
            "providerApp": {"clientId": "p", "clientSecretRef": {"name": "s", "key": "s"}},
        },
        "status": status,
    }


def credential(name: str, connector_name: str) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ns", "name": name, "uid": f"k-{name}"},
        "spec": {"connectorRef": {"name": connector_name}},
    }


def grant(
    name: str, email: str, created: str, credential_name: str = "cred", **status: Any
) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ns", "name": name, "uid": f"g-{name}", "creationTimestamp": created},
        "spec": {"email": email, "credentialRef": {"name": credential_name}},
        "status": status,
    }


def app(client_id: str = "app") -> AppKey:
    key = app_key_of(connector("x", client_id)["spec"])
    assert key is not None
    return key


def fed(*events: tuple[str, str | None, dict[str, Any]]) -> Claims:
    claims = Claims()
    claims.observe(CONNECTORS, None, connector("conn"))
    claims.observe(CREDENTIALS, None, credential("cred", "conn"))
    for plural, event_type, body in events:
        claims.observe(plural, event_type, body)
    return claims


def test_the_grant_that_holds_the_nylas_grant_wins_whatever_the_order() -> None:
    older = grant("first", "ada@x.example", "2030-01-01T00:00:00Z")
    holder = grant("second", "ADA@x.example", "2030-01-02T00:00:00Z", grantId="g1")
    for order in ((older, holder), (holder, older)):
        claims = fed(*((GRANTS, "ADDED", b) for b in order))
        for me in order:
            assert claims.grant_winner(app(), "ada@x.example", grant_claimant(me)).name == "second"


def test_without_a_holder_the_oldest_wins_and_a_reconcile_competes_before_its_event() -> None:
    claims = fed((GRANTS, "ADDED", grant("young", "ada@x.example", "2030-01-02T00:00:00Z")))
    unseen = grant("old", "ada@x.example", "2030-01-01T00:00:00Z")  # its watch event not seen yet
    assert claims.grant_winner(app(), "ada@x.example", grant_claimant(unseen)).name == "old"
    young = grant_claimant(grant("young", "ada@x.example", "2030-01-02T00:00:00Z"))
    assert claims.grant_winner(app(), "ada@x.example", young).name == "young"  # reading changed nothing


def test_a_terminating_holder_keeps_its_claim_until_it_leaves_the_apiserver() -> None:
    holder = grant("first", "ada@x.example", "2030-01-01T00:00:00Z", grantId="g1")
    second = grant_claimant(grant("second", "ada@x.example", "2030-01-02T00:00:00Z"))
    claims = fed((GRANTS, "ADDED", holder))
    terminating = {**holder, "metadata": {**holder["metadata"], "deletionTimestamp": "2030-01-03T00:00:00Z"}}
    claims.observe(GRANTS, "MODIFIED", terminating)
    assert claims.grant_winner(app(), "ada@x.example", second).name == "first"
    assert known_grants(claims, app()) == {}  # no drift repair of a grant being deleted
    claims.observe(GRANTS, "DELETED", terminating)
    assert claims.grant_winner(app(), "ada@x.example", second).name == "second"
    assert [c.name for c in claims.grants_of_email("ada@x.example")] == []


def test_the_same_mailbox_on_another_application_is_no_conflict_and_follows_the_connector() -> None:
    first = grant("first", "ada@x.example", "2030-01-01T00:00:00Z", grantId="g1")
    claims = fed(
        (CONNECTORS, "ADDED", connector("other", client_id="app2")),
        (CREDENTIALS, "ADDED", credential("cred2", "other")),
        (GRANTS, "ADDED", first),
    )
    elsewhere = grant_claimant(
        grant("second", "ada@x.example", "2030-01-02T00:00:00Z", credential_name="cred2")
    )
    assert claims.grant_winner(app("app2"), "ada@x.example", elsewhere).name == "second"
    # The first grant's connector moves to app2: its claim moves with it, no grant event needed.
    claims.observe(CONNECTORS, "MODIFIED", connector("conn", client_id="app2"))
    assert claims.grant_winner(app("app2"), "ada@x.example", elsewhere).name == "first"
    assert claims.grant_winner(app(), "ada@x.example", elsewhere).name == "second"


def test_one_connector_per_application_and_provider() -> None:
    claims = Claims()
    claims.observe(CONNECTORS, "ADDED", connector("a"))
    ready_b = connector("b", conditions=[{"type": "Ready", "status": "True"}])
    key = connector_key(app(), "microsoft")
    me = Claimant("ns", "b", "c-b", "2030-01-01T00:00:00Z", established=True)
    assert claims.connector_winner(key, me).name == "b"  # Ready holds the connector in Nylas
    claims.observe(CONNECTORS, "ADDED", ready_b)
    a = Claimant("ns", "a", "c-a", "2030-01-01T00:00:00Z")
    assert claims.connector_winner(key, a).name == "b"
    claims.observe(CONNECTORS, "DELETED", ready_b)
    assert claims.connector_winner(key, a).name == "a"
    assert [c.name for c in claims.connectors_of_key(key)] == ["a"]


def test_drift_knows_ready_and_degraded_grants_of_its_application_only() -> None:
    claims = fed(
        (GRANTS, "ADDED", grant("ready", "a@x.example", "t", grantId="g1", phase="Ready")),
        (GRANTS, "ADDED", grant("degraded", "b@x.example", "t", grantId="g2", phase="Degraded")),
        (GRANTS, "ADDED", grant("pending", "c@x.example", "t", phase="Pending")),
        (
            GRANTS,
            "ADDED",
            grant("lost-parent", "d@x.example", "t", credential_name="gone", grantId="g4", phase="Ready"),
        ),
    )
    known = known_grants(claims, app())
    assert sorted((k.name, k.grant_id) for k in known.values()) == [("degraded", "g2"), ("ready", "g1")]
    claims.observe(GRANTS, "MODIFIED", grant("ready", "a@x.example", "t", grantId="g1", phase="Pending"))
    assert [k.name for k in known_grants(claims, app()).values()] == ["degraded"]
    assert known_grants(claims, app("app2")) == {}
    assert "x.example" not in repr(claims)


def aged(body: dict[str, Any], created: str, namespace: str = "ns") -> dict[str, Any]:
    return {**body, "metadata": {**body["metadata"], "creationTimestamp": created, "namespace": namespace}}


NOT_READY_NOW = [{"type": "Ready", "status": "False", "reason": "NylasUnavailable", "observedGeneration": 2}]
TOKEN = "microsoft/app@https://api.us.nylas.com"


def test_a_connector_claim_is_sticky_through_a_transient_not_ready() -> None:
    """The holder recorded its claim when it became Ready; Nylas then fails its reconcile
    (``Ready=False`` at its current generation): an older squatter in another namespace, waiting as
    ``Conflict``, does not take the claim meanwhile, whatever order the events come in."""
    assert claim_token(app(), "microsoft") == TOKEN
    holder = aged(connector("holder", claim=TOKEN, conditions=NOT_READY_NOW), "2030-01-02T00:00:00Z")
    holder["metadata"]["generation"] = 2
    squatter = aged(connector("squatter"), "2030-01-01T00:00:00Z", namespace="other")
    key = connector_key(app(), "microsoft")
    for order in ((holder, squatter), (squatter, holder)):
        claims = Claims()
        for body in order:
            claims.observe(CONNECTORS, "ADDED", body)
        for me in order:
            assert claims.connector_winner(key, connector_claimant(me)).name == "holder"
    # Without the recorded claim (the old rule: Ready for the current generation) the older wins.
    unrecorded = aged(connector("holder", conditions=NOT_READY_NOW), "2030-01-02T00:00:00Z")
    unrecorded["metadata"]["generation"] = 2
    claims = Claims()
    claims.observe(CONNECTORS, "ADDED", unrecorded)
    assert claims.connector_winner(key, connector_claimant(squatter)).name == "squatter"
    # Deleted at last: the claim goes with it.
    claims = Claims()
    claims.observe(CONNECTORS, "ADDED", holder)
    claims.observe(CONNECTORS, "DELETED", holder)
    assert claims.connector_winner(key, connector_claimant(squatter)).name == "squatter"


def test_a_recorded_claim_counts_only_for_the_claim_its_spec_names() -> None:
    key = connector_key(app(), "microsoft")
    squatter = aged(connector("squatter"), "2030-01-01T00:00:00Z", namespace="other")
    for recorded in (
        "microsoft/other-app@https://api.us.nylas.com",
        "google/app@https://api.us.nylas.com",
        "",
    ):
        stale = aged(connector("holder", claim=recorded, conditions=NOT_READY_NOW), "2030-01-02T00:00:00Z")
        stale["metadata"]["generation"] = 2
        assert not connector_claimant(stale).established, recorded
        claims = Claims()
        claims.observe(CONNECTORS, "ADDED", stale)
        assert claims.connector_winner(key, connector_claimant(squatter)).name == "squatter", recorded
    # Ready for its current generation also holds (connectors made Ready before status.claim).
    ready = aged(
        connector("holder", conditions=[{"type": "Ready", "status": "True"}]), "2030-01-02T00:00:00Z"
    )
    assert connector_claimant(ready).established


def test_a_grant_claim_is_sticky_through_a_transient_not_ready() -> None:
    """A grant holds its mailbox by the Nylas grant id in its status, which a ``Ready=False``
    (Nylas away, grant invalid, a drift repair failing) never clears: an older squatter waits."""
    failing = [{"type": "Ready", "status": "False", "reason": "NylasUnavailable"}]
    holder = grant("holder", "ada@x.example", "2030-01-02T00:00:00Z", grantId="g1", conditions=failing)
    squatter = grant("squatter", "ada@x.example", "2030-01-01T00:00:00Z")
    for phase in ("Pending", "Degraded", "Failed"):
        body = {**holder, "status": {**holder["status"], "phase": phase}}
        claims = fed((GRANTS, "ADDED", squatter), (GRANTS, "MODIFIED", body))
        for me in (body, squatter):
            assert claims.grant_winner(app(), "ada@x.example", grant_claimant(me)).name == "holder", phase
