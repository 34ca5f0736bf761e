"""The consent server's recorder on the real apiserver: it finds a state by LISTing credentials
(no kopf watch in that process), records like the operator, and forged states cannot make it
LIST more than once per refresh interval."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fixtures.users import user_kubeconfig
from nylas_operator.consent import tokens
from nylas_operator.consent.recording import ConsentOutcome
from nylas_operator.consentserver import ListingRecorder
from nylas_operator.kube import Kube
from nylas_operator.login import CredentialSource
from nylas_operator.settings import ConsentServerSettings, WatchSettings

pytestmark = pytest.mark.cluster


@pytest.fixture
async def kube(control_plane: Any) -> AsyncIterator[Kube]:
    credentials = CredentialSource.kubeconfig()  # KUBECONFIG points at the test plane
    client = Kube(await credentials.current(), credentials=credentials)
    yield client
    await client.aclose()


def awaiting_consent(
    kubectl: Callable[..., str], namespace: str, name: str, state_hash: str, tenant: str = "common"
) -> None:
    """A credential as the operator leaves it: a consent record with a state hash, not granted."""
    body = {
        "apiVersion": "nylas-operator.io/v1alpha1",
        "kind": "NylasCredential",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "connectorRef": {"name": "microsoft"},
            "type": "adminconsent",
            "adminConsent": {"tenant": tenant},
        },
    }
    kubectl("apply", "-f", "-", input=json.dumps(body))
    expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    status = {"status": {"consent": [{"scopeSet": "default", "stateHash": state_hash, "expiresAt": expires}]}}
    kubectl(
        "patch",
        "-n",
        namespace,
        "nylascredential",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(status),
    )


async def test_records_a_state_it_learns_from_a_list(
    kube: Kube, kubectl: Callable[..., str], namespace: str
) -> None:
    settings = ConsentServerSettings(watch=WatchSettings(namespaces=(namespace,)), refresh_interval=0)
    recorder = ListingRecorder(kube, settings)
    await recorder.refresh(force=True)  # at start: nothing to find yet
    _, state_hash = tokens.new_state()
    awaiting_consent(kubectl, namespace, "contoso", state_hash)

    # A state issued after the start is found: the miss LISTs again.
    result = await recorder.record(state_hash, ConsentOutcome(granted=True, tenant="t-1"))
    assert result.accepted and result.display_name == f"{namespace}/contoso"
    body = json.loads(kubectl("get", "-n", namespace, "nylascredential", "contoso", "-o", "json"))
    recorded = json.loads(body["metadata"]["annotations"]["nylas-operator.io/consent-default"])
    assert recorded["granted"] is True and recorded["stateHash"] == state_hash
    # Single use.
    assert not (await recorder.record(state_hash, ConsentOutcome(granted=True))).accepted


async def test_forged_states_list_at_most_once_per_interval(
    kube: Kube, kubectl: Callable[..., str], namespace: str
) -> None:
    settings = ConsentServerSettings(watch=WatchSettings(namespaces=(namespace,)), refresh_interval=3600)
    recorder = ListingRecorder(kube, settings)
    await recorder.refresh(force=True)
    lists = recorder.lists
    for _ in range(50):
        forged = tokens.hash_state(tokens.new_state()[0])
        assert not (await recorder.record(forged, ConsentOutcome(granted=True))).accepted
    assert recorder.lists == lists  # every forged state was a miss, none re-listed within the hour


async def test_a_state_issued_just_after_a_list_is_found_and_misses_share_one_list(
    kube: Kube, kubectl: Callable[..., str], namespace: str
) -> None:
    settings = ConsentServerSettings(watch=WatchSettings(namespaces=(namespace,)), refresh_interval=1.0)
    recorder = ListingRecorder(kube, settings)
    _, state_hash = tokens.new_state()
    awaiting_consent(kubectl, namespace, "contoso", state_hash)  # issued...
    await recorder.refresh(force=True)  # ...while a LIST (say, for a forged state) was under way
    _, newer = tokens.new_state()
    awaiting_consent(kubectl, namespace, "fabrikam", newer)  # issued right after that LIST
    lists = recorder.lists
    forged = [tokens.hash_state(tokens.new_state()[0]) for _ in range(20)]
    results = await asyncio.gather(
        recorder.record(newer, ConsentOutcome(granted=True, tenant="t-1")),
        *(recorder.record(f, ConsentOutcome(granted=True)) for f in forged),
    )
    assert results[0].accepted  # waited for the next LIST instead of being refused
    assert not any(r.accepted for r in results[1:])
    assert recorder.lists - lists == 1  # 21 misses within one interval: one LIST


def test_the_command_fails_clearly_without_rbac(control_plane: Any, tmp_path: Path) -> None:
    """A consent server whose ServiceAccount may not list credentials stops at once and says why."""
    kubeconfig = user_kubeconfig(control_plane, "nobody", tmp_path)
    command = ["consent-server", "-A", "--callback-listen", "127.0.0.1:0"]
    result = subprocess.run(
        [sys.executable, "-m", "nylas_operator.cli", *command],
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "cannot list NylasCredentials" in result.stderr and "HTTP 403" in result.stderr
    assert "Traceback" not in result.stderr


TENANT = "6f1c2a3b-0000-4000-8000-00000000abcd"


def result_annotation(kubectl: Callable[..., str], namespace: str, name: str) -> dict[str, Any] | None:
    body = json.loads(kubectl("get", "-n", namespace, "nylascredential", name, "-o", "json"))
    raw = (body["metadata"].get("annotations") or {}).get("nylas-operator.io/consent-default")
    return None if raw is None else dict(json.loads(raw))


def replica(kube_settings: ConsentServerSettings, client: Kube) -> ListingRecorder:
    """One consent server replica: its own recorder, index and apiserver connection."""
    return ListingRecorder(client, kube_settings)


@pytest.fixture
async def replicas(control_plane: Any) -> AsyncIterator[list[Kube]]:
    """Eight independent apiserver clients (as eight consent server replicas would have)."""
    clients = []
    for _ in range(8):
        credentials = CredentialSource.kubeconfig()
        clients.append(Kube(await credentials.current(), credentials=credentials))
    yield clients
    for client in clients:
        await client.aclose()


async def test_concurrent_callbacks_with_one_state_have_exactly_one_winner(
    replicas: list[Kube], kubectl: Callable[..., str], namespace: str
) -> None:
    _, state_hash = tokens.new_state()
    awaiting_consent(kubectl, namespace, "contoso", state_hash)
    settings = ConsentServerSettings(watch=WatchSettings(namespaces=(namespace,)), refresh_interval=0)
    recorders = [replica(settings, client) for client in replicas]
    await asyncio.gather(*(r.refresh(force=True) for r in recorders))
    outcome = ConsentOutcome(granted=True, tenant="t-1")
    # The replicas' reads all go out before the first write lands: without the resourceVersion
    # guard several would see no grant yet and each write its own.
    results = await asyncio.gather(*(r.record(state_hash, outcome) for r in recorders))
    assert sum(r.accepted for r in results) == 1, results
    recorded = result_annotation(kubectl, namespace, "contoso")
    assert recorded is not None and recorded["granted"] is True and recorded["stateHash"] == state_hash
    # Nor can any replica use the state afterwards, for a grant or a refusal.
    late = await asyncio.gather(
        *(r.record(state_hash, ConsentOutcome(granted=False, error="x")) for r in recorders)
    )
    assert not any(r.accepted for r in late)
    assert result_annotation(kubectl, namespace, "contoso") == recorded


async def test_a_refusal_does_not_burn_the_state(
    kube: Kube, kubectl: Callable[..., str], namespace: str
) -> None:
    _, state_hash = tokens.new_state()
    awaiting_consent(kubectl, namespace, "contoso", state_hash)
    settings = ConsentServerSettings(watch=WatchSettings(namespaces=(namespace,)), refresh_interval=0)
    recorder = ListingRecorder(kube, settings)
    refusal = ConsentOutcome(granted=False, error="access_denied", error_description="forged")
    for _ in range(3):  # as often as anyone holding the URL likes: shown, never final
        assert (await recorder.record(state_hash, refusal)).accepted
    refused = result_annotation(kubectl, namespace, "contoso")
    assert refused is not None and refused["granted"] is False and refused["stateHash"] == state_hash
    granted = await recorder.record(state_hash, ConsentOutcome(granted=True, tenant="t-1"))
    assert granted.accepted
    recorded = result_annotation(kubectl, namespace, "contoso")
    assert recorded is not None and recorded["granted"] is True


async def test_a_flood_of_forged_refusals_neither_stops_nor_hides_the_real_consent(
    replicas: list[Kube], kubectl: Callable[..., str], namespace: str
) -> None:
    _, state_hash = tokens.new_state()
    awaiting_consent(kubectl, namespace, "contoso", state_hash)
    settings = ConsentServerSettings(watch=WatchSettings(namespaces=(namespace,)), refresh_interval=0)
    recorders = [replica(settings, client) for client in replicas]
    await asyncio.gather(*(r.refresh(force=True) for r in recorders))
    forged = ConsentOutcome(granted=False, error="access_denied", error_description="forged")

    async def flood(recorder: ListingRecorder) -> None:
        for _ in range(10):
            await recorder.record(state_hash, forged)

    floods = [asyncio.create_task(flood(r)) for r in recorders[1:]]
    await asyncio.sleep(0)  # the flood is under way when the administrator's redirect arrives
    real = await recorders[0].record(state_hash, ConsentOutcome(granted=True, tenant="t-1"))
    await asyncio.gather(*floods)
    assert real.accepted
    recorded = result_annotation(kubectl, namespace, "contoso")
    assert recorded is not None and recorded["granted"] is True  # no refusal written over it


async def test_a_credential_bound_to_a_tenant_refuses_another_tenant(
    kube: Kube, kubectl: Callable[..., str], namespace: str
) -> None:
    _, state_hash = tokens.new_state()
    awaiting_consent(kubectl, namespace, "contoso", state_hash, tenant=TENANT)
    settings = ConsentServerSettings(watch=WatchSettings(namespaces=(namespace,)), refresh_interval=0)
    recorder = ListingRecorder(kube, settings)
    other = "0d9e8f7a-1111-4111-8111-11111111dcba"
    for outcome in (
        ConsentOutcome(granted=True, tenant=other),
        ConsentOutcome(granted=True),
        ConsentOutcome(granted=False, error="access_denied", tenant=other),
    ):
        assert not (await recorder.record(state_hash, outcome)).accepted
    assert result_annotation(kubectl, namespace, "contoso") is None  # nothing recorded
    # The state is not burnt: the right tenant (as Microsoft spells it) still records.
    assert (await recorder.record(state_hash, ConsentOutcome(granted=True, tenant=TENANT.upper()))).accepted
    recorded = result_annotation(kubectl, namespace, "contoso")
    assert recorded is not None and recorded["granted"] is True and recorded["tenant"] == TENANT.upper()
