"""`kubectl nylas` against the real apiserver: objects created with kubectl, their status written
through the status subresource (no operator runs), the plugin run as the installed console script,
once through kubectl's own plugin discovery.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from nylas_operator.plugin.client import GRANTS, Client, Expired
from nylas_operator.plugin.kubeconfig import load

pytestmark = pytest.mark.cluster

PLUGIN = Path(sys.executable).with_name("kubectl-nylas")
URL = "https://login.microsoftonline.com/common/adminconsent?client_id=app&state=one-time-state"

MANIFESTS = """
apiVersion: nylas-operator.io/v1alpha1
kind: NylasConnector
metadata: {name: microsoft}
spec:
  provider: microsoft
  application:
    clientId: app
    apiUrl: "http://127.0.0.1:1"
    apiKeySecretRef: {name: nylas, key: apiKey}
  providerApp: {clientId: ms-app, tenant: common, clientSecretRef: {name: nylas, key: clientSecret}}
---
apiVersion: nylas-operator.io/v1alpha1
kind: NylasCredential
metadata: {name: contoso}
spec:
  connectorRef: {name: microsoft}
  type: adminconsent
---
apiVersion: nylas-operator.io/v1alpha1
kind: ServiceAccountGrant
metadata: {name: alice}
spec: {credentialRef: {name: contoso}, email: alice@contoso.example}
---
apiVersion: nylas-operator.io/v1alpha1
kind: ServiceAccountGrant
metadata: {name: bob}
spec: {credentialRef: {name: contoso}, email: bob@contoso.example}
"""


def plugin(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PLUGIN), *args], capture_output=True, text=True, timeout=60, check=False, env=env
    )


def set_status(
    kubectl: Callable[..., str], ns: str, resource: str, name: str, phase: str, reason: str, **extra: Any
) -> None:
    ready = "True" if phase == "Ready" else "False"
    status = {
        "phase": phase,
        "observedGeneration": 1,
        "conditions": [
            {
                "type": "Ready",
                "status": ready,
                "reason": reason,
                "message": f"{reason} message",
                "lastTransitionTime": "2025-01-01T00:00:00Z",
                "observedGeneration": 1,
            }
        ],
        **extra,
    }
    kubectl(
        "patch",
        resource,
        name,
        "-n",
        ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )


@pytest.fixture
def objects(kubectl: Callable[..., str], namespace: str) -> str:
    kubectl("apply", "-n", namespace, "-f", "-", input=MANIFESTS)
    set_status(kubectl, namespace, "nylasconnector", "microsoft", "Ready", "Available")
    set_status(
        kubectl,
        namespace,
        "nylascredential",
        "contoso",
        "AwaitingConsent",
        "AwaitingConsent",
        consentUrl=URL,
        consent=[
            {"scopeSet": "default", "consentUrl": URL, "expiresAt": "2099-01-01T00:00:00Z"},
        ],
    )
    for grant in ("alice", "bob"):
        set_status(kubectl, namespace, "serviceaccountgrant", grant, "AwaitingConsent", "AwaitingConsent")
    return namespace


def test_status_through_kubectl_plugin_discovery(objects: str, control_plane: Any) -> None:
    env = {**os.environ, "PATH": os.pathsep.join([str(PLUGIN.parent), os.environ["PATH"]])}
    result = subprocess.run(
        [str(control_plane.binaries.kubectl), "nylas", "status", "-n", objects],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NylasConnector/microsoft", "Ready"]
    assert lines[1].split()[1:3] == ["NylasCredential/contoso", "AwaitingConsent"]
    assert (
        f"→ a tenant administrator opens the consent URL: kubectl nylas consent-url contoso -n {objects}"
        in (result.stdout)
    )
    assert "ServiceAccountGrant/alice" in result.stdout
    assert "ServiceAccountGrant/bob" in result.stdout
    # The URL carries the state: status shows the command, not the URL.
    assert "one-time-state" not in result.stdout


def test_status_all_namespaces_and_empty(objects: str, kubectl: Callable[..., str]) -> None:
    everywhere = plugin("status", "-A")
    assert everywhere.returncode == 0, everywhere.stderr
    assert f"Namespace {objects}" in everywhere.stdout
    [connector] = json.loads(plugin("status", "-o", "json", "-n", objects).stdout)
    [credential] = connector["children"]
    assert sorted(g["name"] for g in credential["children"]) == ["alice", "bob"]
    assert credential["phase"] == "AwaitingConsent" and credential["nextSteps"]
    kubectl("create", "namespace", f"{objects}-empty")
    try:
        empty = plugin("status", "-n", f"{objects}-empty")
        assert (empty.returncode, empty.stdout) == (0, "")
        assert "No Nylas objects found" in empty.stderr
        assert json.loads(plugin("status", "-o", "json", "-n", f"{objects}-empty").stdout) == []
    finally:
        kubectl("delete", "namespace", f"{objects}-empty", "--wait=false")


def test_consent_url(objects: str, kubectl: Callable[..., str]) -> None:
    result = plugin("consent-url", "contoso", "-n", objects)
    assert result.returncode == 0, result.stderr
    assert result.stdout == URL + "\n"  # alone on stdout: `open "$(kubectl nylas consent-url ...)"`
    assert "expires 2099-01-01T00:00:00Z" in result.stderr
    granted = [{"scopeSet": "default", "grantedAt": "2025-01-01T00:00:00Z", "grantedBy": "callback"}]
    set_status(
        kubectl, objects, "nylascredential", "contoso", "Ready", "Available", consent=granted, consentUrl=None
    )
    done = plugin("consent-url", "contoso", "-n", objects)
    assert done.returncode == 1
    assert "no consent is pending for contoso: recorded for default at 2025-01-01T00:00:00Z" in done.stderr
    missing = plugin("consent-url", "nobody", "-n", objects)
    assert missing.returncode == 1
    assert f"NylasCredential nobody not found in namespace {objects}" in missing.stderr


def _viewer_kubeconfig(control_plane: Any, kubectl: Callable[..., str], ns: str, path: Path) -> Path:
    """The session kubeconfig plus a context `viewer`: a ServiceAccount allowed get/list only."""
    kubectl("create", "serviceaccount", "viewer", "-n", ns)
    kubectl(
        "create",
        "role",
        "nylas-view",
        "-n",
        ns,
        "--verb=get,list",
        "--resource=nylasconnectors.nylas-operator.io,nylascredentials.nylas-operator.io,"
        "serviceaccountgrants.nylas-operator.io",
    )
    kubectl(
        "create", "rolebinding", "nylas-view", "-n", ns, "--role=nylas-view", f"--serviceaccount={ns}:viewer"
    )
    token = kubectl("create", "token", "viewer", "-n", ns).strip()
    doc = yaml.safe_load(Path(control_plane.kubeconfig).read_text())
    cluster = doc["contexts"][0]["context"]["cluster"]
    doc["users"].append({"name": "viewer", "user": {"token": token}})
    doc["contexts"].append(
        {"name": "viewer", "context": {"cluster": cluster, "user": "viewer", "namespace": ns}}
    )
    path.write_text(yaml.safe_dump(doc))
    return path


def test_approve_is_done_as_the_user(
    objects: str, control_plane: Any, kubectl: Callable[..., str], tmp_path: Path
) -> None:
    config = _viewer_kubeconfig(control_plane, kubectl, objects, tmp_path / "kubeconfig")
    # The viewer may read (the namespace comes from its context) but not annotate.
    seen = plugin("status", "--kubeconfig", str(config), "--context", "viewer")
    assert seen.returncode == 0, seen.stderr
    assert "NylasCredential/contoso" in seen.stdout
    refused = plugin("approve", "contoso", "--kubeconfig", str(config), "--context", "viewer")
    assert refused.returncode == 1
    assert (
        f'system:serviceaccount:{objects}:viewer" cannot patch resource "nylascredentials"' in refused.stderr
    )
    annotations = json.loads(kubectl("get", "nylascredential", "contoso", "-n", objects, "-o", "json"))[
        "metadata"
    ]
    assert "nylas-operator.io/admin-consent" not in (annotations.get("annotations") or {})
    # The admin context of the same file may.
    allowed = plugin("approve", "contoso", "-n", objects, "--kubeconfig", str(config))
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout == "nylascredential/contoso annotated nylas-operator.io/admin-consent=granted\n"
    body = json.loads(kubectl("get", "nylascredential", "contoso", "-n", objects, "-o", "json"))
    assert body["metadata"]["annotations"]["nylas-operator.io/admin-consent"] == "granted"


def test_wait_shows_progress_until_ready(objects: str, kubectl: Callable[..., str]) -> None:
    proc = subprocess.Popen(
        [
            str(PLUGIN),
            "wait",
            "--credential",
            "contoso",
            "-n",
            objects,
            "--timeout",
            "120s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert first == "0/2 Ready, 2 AwaitingConsent\n"
        set_status(kubectl, objects, "serviceaccountgrant", "alice", "Ready", "Available")
        assert proc.stderr.readline() == "1/2 Ready, 1 AwaitingConsent\n"
        set_status(kubectl, objects, "serviceaccountgrant", "bob", "Ready", "Available")
        assert proc.wait(timeout=60) == 0
        assert proc.stderr.read() == "2/2 Ready\n"
        # The credential still waits: --not-ready shows it under its connector, and no grant.
        attention = plugin("status", "--not-ready", "-n", objects)
        assert attention.returncode == 0, attention.stderr
        assert "NylasCredential/contoso" in attention.stdout
        assert "ServiceAccountGrant" not in attention.stdout
    finally:
        proc.kill()
        proc.wait()


def test_wait_exit_codes(objects: str, kubectl: Callable[..., str]) -> None:
    timed_out = plugin("wait", "alice", "-n", objects, "--timeout", "1s")
    assert timed_out.returncode == 3
    assert "timed out after 1s: 0/1 Ready, 1 AwaitingConsent" in timed_out.stderr
    set_status(kubectl, objects, "serviceaccountgrant", "bob", "Failed", "ScopesRequired")
    failed = plugin("wait", "-n", objects, "--timeout", "60s")
    assert failed.returncode == 4
    assert (
        f"ServiceAccountGrant {objects}/bob failed: ScopesRequired: ScopesRequired message" in failed.stderr
    )
    missing = plugin("wait", "nobody", "-n", objects)
    assert missing.returncode == 1
    assert "ServiceAccountGrant nobody not found" in missing.stderr
    bad = plugin("wait", "-n", objects, "--timeout", "soon")
    assert bad.returncode == 2


def test_a_watch_from_a_forgotten_version_asks_for_a_new_list(objects: str, control_plane: Any) -> None:
    # `wait` lists again when its watch's resourceVersion is gone (HTTP 410, as after compaction).
    with Client(load(str(control_plane.kubeconfig))) as client:
        items, version = client.list_with_version(GRANTS, objects)
        assert {g["metadata"]["name"] for g in items} == {"alice", "bob"} and int(version) > 1
        with pytest.raises(Expired):
            list(client.watch(GRANTS, objects, resource_version="1", seconds=5))


def test_unreachable_apiserver_is_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(
        yaml.safe_dump(
            {
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "secret-token-value"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    result = plugin("status", "--kubeconfig", str(config))
    assert result.returncode == 1
    assert result.stderr == "Error: cannot reach the apiserver at https://127.0.0.1:1: ConnectError\n"
    assert "secret-token-value" not in result.stderr
