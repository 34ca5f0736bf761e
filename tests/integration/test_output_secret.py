"""``write_owned_secret`` on the real apiserver: the operator writes only the Secrets it created.

A Secret counts as the grant's output only with both marks the operator sets on creation (the
grant's controller ownerReference and the label ``nylas-operator.io/grant``); any other Secret of
that name is left byte for byte as it was, and the refusal says why.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from nylas_operator.kube import OUTPUT_SECRET_LABEL, Kube, owner_reference
from nylas_operator.login import CredentialSource

pytestmark = pytest.mark.cluster

DATA = {
    "grant_id": "g-123",
    "email": "dana@acme.example",
    "provider": "google",
    "api_url": "http://127.0.0.1",
}


@pytest.fixture
async def kube(control_plane: Any) -> AsyncIterator[Kube]:
    credentials = CredentialSource.kubeconfig()  # KUBECONFIG points at the test plane
    client = Kube(await credentials.current(), credentials=credentials)  # KUBECONFIG points at the test plane
    yield client
    await client.aclose()


@pytest.fixture
def grant(kubectl: Callable[..., str], namespace: str) -> dict[str, Any]:
    manifest = {
        "apiVersion": "nylas-operator.io/v1alpha1",
        "kind": "ServiceAccountGrant",
        "metadata": {"name": "dana", "namespace": namespace},
        "spec": {"credentialRef": {"name": "workspace"}, "email": "dana@acme.example"},
    }
    kubectl("apply", "-f", "-", input=json.dumps(manifest))
    return dict(json.loads(kubectl("get", "-n", namespace, "serviceaccountgrant", "dana", "-o", "json")))


def make_secret(kubectl: Callable[..., str], namespace: str, name: str, **meta: Any) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, **meta},
        "data": {"grant_id": base64.b64encode(b"someone-elses").decode()},
    }
    kubectl("create", "-f", "-", input=json.dumps(body))


def secret(kubectl: Callable[..., str], namespace: str, name: str) -> dict[str, Any]:
    return dict(json.loads(kubectl("get", "-n", namespace, "secret", name, "-o", "json")))


async def test_creates_then_updates_its_own_secret(
    kube: Kube, kubectl: Callable[..., str], namespace: str, grant: dict[str, Any]
) -> None:
    assert await kube.write_owned_secret(namespace, "out", DATA, grant)
    created = secret(kubectl, namespace, "out")
    assert created["metadata"]["labels"][OUTPUT_SECRET_LABEL] == "dana"
    assert created["metadata"]["ownerReferences"] == [owner_reference(grant)]
    assert base64.b64decode(created["data"]["grant_id"]) == b"g-123"
    # A new grant id is written over the operator's own Secret.
    assert await kube.write_owned_secret(namespace, "out", {**DATA, "grant_id": "g-456"}, grant)
    assert base64.b64decode(secret(kubectl, namespace, "out")["data"]["grant_id"]) == b"g-456"


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("plain", "the operator did not create it"),
        ("owner-only", "lacks the label nylas-operator.io/grant=dana"),
        ("label-only", "labelled nylas-operator.io/grant=dana but not owned by this ServiceAccountGrant"),
        ("other-grant", "the operator did not create it"),
    ],
)
async def test_never_overwrites_a_secret_it_did_not_create(
    kube: Kube, kubectl: Callable[..., str], namespace: str, grant: dict[str, Any], case: str, reason: str
) -> None:
    ref = owner_reference(grant)
    meta = {
        "plain": {},
        # Someone copied the grant's ownerReference onto their own Secret (it would then even be
        # garbage-collected with the grant): still not the operator's.
        "owner-only": {"ownerReferences": [ref]},
        "label-only": {"labels": {OUTPUT_SECRET_LABEL: "dana"}},
        "other-grant": {"labels": {OUTPUT_SECRET_LABEL: "erin"}},
    }[case]
    make_secret(kubectl, namespace, "taken", **meta)
    before = secret(kubectl, namespace, "taken")

    result = await kube.write_owned_secret(namespace, "taken", DATA, grant)

    assert not result
    assert reason in result.reason and "not overwritten" in result.reason
    after = secret(kubectl, namespace, "taken")
    assert after["data"] == before["data"]
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]  # not touched
