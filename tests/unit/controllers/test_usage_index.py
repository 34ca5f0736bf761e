"""The usage index follows watch events: adds, moves between parents, deletions; counts only."""

from __future__ import annotations

from typing import Any

from nylas_operator.controllers.index import UsageIndex
from nylas_operator.kube import CREDENTIALS, GRANTS


def grant(name: str, credential: str, **extra: Any) -> dict[str, Any]:
    spec = {"credentialRef": {"name": credential}, "email": f"{name}@x.example", **extra.pop("spec", {})}
    return {"metadata": {"namespace": "ns", "name": name, **extra}, "spec": spec}


def test_grants_are_counted_per_credential_and_follow_their_reference() -> None:
    index = UsageIndex()
    index.observe(GRANTS, None, grant("a", "c1"))  # start-up LIST
    index.observe(GRANTS, "ADDED", grant("b", "c1", spec={"scopes": ["Mail.Read"]}))
    assert [g.name for g in index.grants_of("ns", "c1")] == ["a", "b"]
    assert index.grants_of("ns", "c1")[1].as_body()["spec"]["scopes"] == ["Mail.Read"]
    index.observe(GRANTS, "MODIFIED", grant("b", "c2"))
    assert [g.name for g in index.grants_of("ns", "c1")] == ["a"]
    assert [g.name for g in index.grants_of("ns", "c2")] == ["b"]
    index.observe(GRANTS, "MODIFIED", grant("a", "c1", deletionTimestamp="2030-01-01T00:00:00Z"))
    assert index.grants_of("ns", "c1")[0].deleting  # still a user until it is gone
    index.observe(GRANTS, "DELETED", grant("a", "c1"))
    assert index.grants_of("ns", "c1") == [] and index.grants_of("other", "c2") == []
    assert "x.example" not in repr(index)


def test_credentials_are_counted_per_connector() -> None:
    index = UsageIndex()
    body = {"metadata": {"namespace": "ns", "name": "cred"}, "spec": {"connectorRef": {"name": "ms"}}}
    index.observe(CREDENTIALS, None, body)
    assert index.credentials_of("ns", "ms") == ["cred"]
    index.observe(CREDENTIALS, "DELETED", body)
    assert index.credentials_of("ns", "ms") == []
