"""The consent server's recorder on the real apiserver: it finds a state by LISTing credentials
(no kopf watch in that process), records like the operator, and forged states cannot make it
LIST more than once per refresh interval."""

from __future__ import annotations

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


def awaiting_consent(kubectl: Callable[..., str], namespace: str, name: str, state_hash: str) -> None:
    """A credential as the operator leaves it: a consent record with a state hash, not granted."""
    body = {
        "apiVersion": "nylas-operator.io/v1alpha1",
        "kind": "NylasCredential",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "connectorRef": {"name": "microsoft"},
            "type": "adminconsent",
            "adminConsent": {"tenant": "common"},
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
