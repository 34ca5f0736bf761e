"""The chart's security objects: the consent server apart from the operator, and the admission
policy that makes consent by annotation an approval (tested on the real apiserver with two users
whose client certificates are signed by the cluster's client CA)."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_tools import by_kind, container, one, render

from fixtures.users import user_kubeconfig
from nylas_operator.devcluster.controlplane import KubectlError

CONSENT = "nylas-operator.io/admin-consent"
RESULT = "nylas-operator.io/consent-default"


# --- rendering ------------------------------------------------------------------------------------


def test_the_consent_server_runs_apart_with_only_what_recording_needs(tmp_path: Path) -> None:
    objects = render({}, tmp_path)
    deploy = one(objects, "Deployment", "nylas-operator-consent")
    pod = deploy["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "nylas-operator-consent"
    c = container(objects, "consent-server")
    assert c["command"] == ["nylas-operator", "consent-server"]
    assert c["args"] == [
        "--all-namespaces",
        "--callback-listen=0.0.0.0:8081",
        "--health-listen=0.0.0.0:8082",
        "--max-connections=256",
        "--header-timeout=10s",
        "--scope-cache-delay=5m",
        "--log-level=info",
        "--log-format=json",
    ]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    role = one(objects, "ClusterRole", "nylas-operator-consent")
    assert role["rules"] == [
        {
            "apiGroups": ["nylas-operator.io"],
            "resources": ["nylascredentials"],
            "verbs": ["get", "list", "patch"],
        }
    ]
    binding = one(objects, "ClusterRoleBinding", "nylas-operator-consent")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "nylas-operator-consent", "namespace": "nylas-operator"}
    ]
    # The operator's own Deployment serves no callback.
    assert not any(a.startswith("--callback-listen") for a in container(objects)["args"])


def test_consent_server_values(tmp_path: Path) -> None:
    objects = render(
        {
            "watchNamespaces": ["team-a"],
            "consentServer": {
                "trustedProxies": ["10.42.0.0/16"],
                "maxConnections": 32,
                "headerTimeout": "5s",
            },
        },
        tmp_path,
    )
    args = container(objects, "consent-server")["args"]
    assert args[:1] == ["--namespace=team-a"]
    assert "--trusted-proxy=10.42.0.0/16" in args and "--max-connections=32" in args
    assert "--header-timeout=5s" in args
    roles = {(r["metadata"]["namespace"], r["metadata"]["name"]) for r in by_kind(objects, "Role")}
    assert ("team-a", "nylas-operator-consent") in roles
    assert not [
        r for r in by_kind(objects, "ClusterRole") if r["metadata"]["name"] == "nylas-operator-consent"
    ]
    # The policy guards only the served namespaces (another release may serve the others).
    policy = one(objects, "ValidatingAdmissionPolicy")
    assert policy["spec"]["matchConstraints"]["namespaceSelector"]["matchExpressions"][0]["values"] == [
        "team-a"
    ]

    off = render({"consentServer": {"enabled": False}, "consentApproval": {"enabled": False}}, tmp_path)
    assert [d["metadata"]["name"] for d in by_kind(off, "Deployment")] == ["nylas-operator"]
    assert not by_kind(off, "ValidatingAdmissionPolicy")
    assert "nylas-operator" not in [s["metadata"]["name"] for s in by_kind(off, "Service")]


def test_the_approver_role_aggregates_into_admin_unless_told_not_to(tmp_path: Path) -> None:
    role = one(render({}, tmp_path), "ClusterRole", "nylas-operator-consent-approver")
    assert role["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"] == "true"
    assert {
        "apiGroups": ["nylas-operator.io"],
        "resources": ["nylascredentials/consent"],
        "verbs": ["approve"],
    } in role["rules"]
    plain = one(
        render({"consentApproval": {"aggregateToAdmin": False}}, tmp_path),
        "ClusterRole",
        role["metadata"]["name"],
    )
    assert "rbac.authorization.k8s.io/aggregate-to-admin" not in plain["metadata"]["labels"]


# --- the admission policy on the real apiserver ----------------------------------------------------


class User:
    """kubectl as a user authenticated by a client certificate (CN = name) from the cluster's CA."""

    def __init__(self, plane: Any, name: str, directory: Path) -> None:
        self.name = name
        self.kubeconfig = user_kubeconfig(plane, name, directory)
        self._kubectl = str(plane.binaries.kubectl)

    def kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self._kubectl, f"--kubeconfig={self.kubeconfig}", *args],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip


@pytest.fixture
def policy(control_plane: Any, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The chart's policy, binding and approver role (a release of its own name), applied."""
    release = f"sec-{secrets.token_hex(3)}"
    objects = render({}, tmp_path, release=release, namespace="ops")
    kinds = ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
    shipped = [o for o in objects if o["kind"] in kinds]
    shipped.append(one(objects, "ClusterRole", f"{release}-nylas-operator-consent-approver"))
    assert len(shipped) == 3
    text = yaml.safe_dump_all(shipped)
    control_plane.kubectl("apply", "-f", "-", input=text)
    try:
        yield {
            "approver": f"{release}-nylas-operator-consent-approver",
            "operator": f"system:serviceaccount:ops:{release}-nylas-operator",
            "consent": f"system:serviceaccount:ops:{release}-nylas-operator-consent",
        }
    finally:
        control_plane.kubectl("delete", "-f", "-", "--wait=false", input=text, check=False)


def as_admin(kubectl: Callable[..., str], who: str, *args: str) -> subprocess.CompletedProcess[str]:
    """kubectl impersonating ``who`` (a ServiceAccount of the chart), through the admin kubeconfig."""
    try:
        return subprocess.CompletedProcess(args, 0, kubectl(f"--as={who}", *args), "")
    except KubectlError as exc:
        return subprocess.CompletedProcess(args, exc.returncode, "", exc.stderr)


def annotations(kubectl: Callable[..., str], namespace: str) -> dict[str, str]:
    body = json.loads(kubectl("get", "-n", namespace, "nylascredential", "contoso", "-o", "json"))
    return dict(body["metadata"].get("annotations") or {})


@pytest.mark.cluster
def test_only_approvers_record_consent_by_annotation(
    control_plane: Any, kubectl: Callable[..., str], namespace: str, policy: dict[str, str], tmp_path: Path
) -> None:
    alice = User(control_plane, "alice", tmp_path)  # an approver
    bob = User(control_plane, "bob", tmp_path)  # may edit credentials, may not approve
    editor = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "credential-editor", "namespace": namespace},
        "rules": [
            {
                "apiGroups": ["nylas-operator.io"],
                "resources": ["nylascredentials"],
                "verbs": ["get", "list", "patch", "update"],
            }
        ],
    }
    kubectl("apply", "-f", "-", input=json.dumps(editor))
    for subject in ("bob", "alice"):
        kubectl(
            "create",
            "rolebinding",
            f"edit-{subject}",
            "-n",
            namespace,
            "--role=credential-editor",
            f"--user={subject}",
        )
    for sa in (policy["operator"], policy["consent"]):
        kubectl(
            "create",
            "rolebinding",
            f"edit-{sa.rsplit(':', 1)[1]}",
            "-n",
            namespace,
            "--role=credential-editor",
            f"--user={sa}",
        )
    kubectl(
        "create",
        "rolebinding",
        "approve-alice",
        "-n",
        namespace,
        f"--clusterrole={policy['approver']}",
        "--user=alice",
    )
    credential = {
        "apiVersion": "nylas-operator.io/v1alpha1",
        "kind": "NylasCredential",
        "metadata": {"name": "contoso", "namespace": namespace},
        "spec": {
            "connectorRef": {"name": "microsoft"},
            "type": "adminconsent",
            "adminConsent": {"tenant": "common"},
        },
    }
    kubectl("apply", "-f", "-", input=json.dumps(credential))
    target = ("-n", namespace, "nylascredential", "contoso")

    # The policy takes effect once the apiserver has compiled it: wait for bob's first refusal
    # (a server-side dry run, so nothing changes while waiting).
    deadline = time.monotonic() + 60
    while (
        probe := bob.kubectl("annotate", *target, f"{CONSENT}=granted", "--dry-run=server")
    ).returncode == 0:
        assert time.monotonic() < deadline, "the admission policy never took effect"
        time.sleep(0.5)

    refusal = (
        f"setting, changing or removing the annotation {CONSENT} needs the verb approve on "
        f"nylascredentials/consent in namespace {namespace} (user bob is not allowed it)"
    )
    assert refusal in probe.stderr, probe.stderr
    refused = bob.kubectl("annotate", *target, f"{CONSENT}=granted")
    assert refused.returncode != 0 and refusal in refused.stderr
    assert CONSENT not in annotations(kubectl, namespace)
    # Bob may still edit the credential otherwise: the policy is about consent only.
    assert bob.kubectl("annotate", *target, "nylas-operator.io/paused=true").returncode == 0

    # Alice approves; bob can neither change nor remove her approval.
    approved = alice.kubectl("annotate", *target, f"{CONSENT}=granted")
    assert approved.returncode == 0, approved.stderr
    assert annotations(kubectl, namespace)[CONSENT] == "granted"
    for attempt in ([f"{CONSENT}=revoked", "--overwrite"], [f"{CONSENT}-"]):
        denied = bob.kubectl("annotate", *target, *attempt)
        assert denied.returncode != 0 and refusal in denied.stderr
    assert annotations(kubectl, namespace)[CONSENT] == "granted"

    # The operator removes it once recorded, but may not set it.
    removed = as_admin(kubectl, policy["operator"], "annotate", *target, f"{CONSENT}-")
    assert removed.returncode == 0, removed.stderr
    assert CONSENT not in annotations(kubectl, namespace)
    set_by_operator = as_admin(kubectl, policy["operator"], "annotate", *target, f"{CONSENT}=granted")
    assert set_by_operator.returncode != 0 and "needs the verb approve" in set_by_operator.stderr

    # The callback's result annotation: only the consent server writes it, only the operator removes it.
    forged = bob.kubectl("annotate", *target, f'{RESULT}={{"granted": true}}')
    assert forged.returncode != 0
    assert "written only by the consent callback server (user bob" in forged.stderr
    written = as_admin(kubectl, policy["consent"], "annotate", *target, f'{RESULT}={{"granted": true}}')
    assert written.returncode == 0, written.stderr
    assert bob.kubectl("annotate", *target, f"{RESULT}-").returncode != 0
    cleared = as_admin(kubectl, policy["operator"], "annotate", *target, f"{RESULT}-")
    assert cleared.returncode == 0, cleared.stderr
    assert RESULT not in annotations(kubectl, namespace)
