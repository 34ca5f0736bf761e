"""The generated CRDs against a real kube-apiserver: acceptance, rejection messages, immutability,
`kubectl explain`, the status subresource, categories, short names and printer columns.

The `control_plane` fixture (tests/fixtures/controlplane.py) has installed `crds/*.yaml`. Objects
live in one namespace per module; no controller runs, so nothing here depends on the operator.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from nylas_operator.api.crds import KINDS, build_crd

pytestmark = pytest.mark.cluster

API = "nylas-operator.io/v1alpha1"
_KUBECTL_FALLBACK = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33"


@dataclass
class Kubectl:
    binary: str
    kubeconfig: Path
    namespace: str

    def run(
        self, *args: str, input: str | None = None, namespaced: bool = True
    ) -> subprocess.CompletedProcess[str]:
        cmd = [self.binary, f"--kubeconfig={self.kubeconfig}"]
        if namespaced:
            cmd.append(f"--namespace={self.namespace}")
        return subprocess.run(
            [*cmd, *args], input=input, capture_output=True, text=True, timeout=60, check=False
        )

    def ok(self, *args: str, input: str | None = None, namespaced: bool = True) -> str:
        result = self.run(*args, input=input, namespaced=namespaced)
        assert result.returncode == 0, f"kubectl {' '.join(args)} failed: {result.stderr}"
        return result.stdout

    def create(self, obj: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        # kubectl's default --validate=strict makes unknown fields an error instead of pruning them.
        return self.run("create", "-f", "-", input=yaml.safe_dump(obj))

    def get(self, resource: str, name: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.ok("get", resource, name, "-o", "json"))
        return loaded

    def patch(
        self, resource: str, name: str, patch: dict[str, Any], *extra: str
    ) -> subprocess.CompletedProcess[str]:
        return self.run("patch", resource, name, "--type=merge", "-p", json.dumps(patch), *extra)


def _kubectl_binary(control_plane: Any) -> str:
    found = getattr(getattr(control_plane, "binaries", None), "kubectl", None)
    candidates = [found, os.environ.get("KUBECTL"), _KUBECTL_FALLBACK, shutil.which("kubectl")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return str(candidate)
    pytest.fail("no kubectl found (set KUBECTL)")


@pytest.fixture(scope="module")
def kube(control_plane: Any) -> Iterator[Kubectl]:
    namespace = f"crds-{uuid.uuid4().hex[:8]}"
    k = Kubectl(_kubectl_binary(control_plane), Path(control_plane.kubeconfig), namespace)
    k.ok("create", "namespace", namespace, namespaced=False)
    yield k
    # No wait: without a namespace controller the namespace may stay Terminating.
    k.run("delete", "namespace", namespace, "--wait=false", namespaced=False)


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


# --- valid objects ---------------------------------------------------------------------------------


def ms_connector(name: str = "ms") -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "NylasConnector",
        "metadata": {"name": name},
        "spec": {
            "provider": "microsoft",
            "application": {"apiKeySecretRef": {"name": "nylas", "key": "api-key"}, "clientId": "app-123"},
            "providerApp": {
                "clientId": "azure-app-id",
                "clientSecretRef": {"name": "azure", "key": "client-secret"},
                "tenant": "contoso.onmicrosoft.com",
            },
        },
    }


def google_connector(name: str = "google") -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "NylasConnector",
        "metadata": {"name": name},
        "spec": {
            "provider": "google",
            "application": {
                "apiKeySecretRef": {"name": "nylas", "key": "api-key"},
                "clientId": "app-123",
                "region": "eu",
                "apiUrl": "http://127.0.0.1:8080",
            },
            "providerApp": {
                "clientId": "gcp-client.apps.googleusercontent.com",
                "clientSecretRef": {"name": "gcp", "key": "client_secret"},
                "topicName": "projects/p/topics/nylas",
            },
            "scopes": ["https://www.googleapis.com/auth/gmail.readonly"],
            "deletionPolicy": "Delete",
        },
    }


def admin_credential(name: str = "contoso") -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "NylasCredential",
        "metadata": {"name": name},
        "spec": {
            "connectorRef": {"name": "ms"},
            "type": "adminconsent",
            "adminConsent": {
                "tenant": "11111111-2222-3333-4444-555555555555",
                "scopes": ["https://graph.microsoft.com/Mail.Read"],
                "redirectUri": "https://operator.example.com/consent/callback",
            },
            "scopeCacheDelay": "5m",
        },
    }


def sa_credential(name: str = "gsa") -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "NylasCredential",
        "metadata": {"name": name},
        "spec": {
            "connectorRef": {"name": "google"},
            "type": "serviceaccount",
            "serviceAccount": {"keySecretRef": {"name": "gsa-key", "key": "key.json"}},
        },
    }


def grant(name: str = "alice") -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "ServiceAccountGrant",
        "metadata": {"name": name},
        "spec": {
            "credentialRef": {"name": "contoso"},
            "email": "alice@contoso.com",
            "scopes": ["https://graph.microsoft.com/Mail.Read"],
            "scopeCacheDelay": "1h30m",
            "writeGrantToSecret": {"name": "alice-grant"},
        },
    }


VALID: dict[str, Callable[[str], dict[str, Any]]] = {
    "connector-microsoft": ms_connector,
    "connector-google": google_connector,
    "credential-adminconsent": admin_credential,
    "credential-adminconsent-minimal": lambda n: {
        **admin_credential(n),
        "spec": {"connectorRef": {"name": "ms"}, "type": "adminconsent"},
    },
    "credential-serviceaccount": sa_credential,
    "grant": grant,
    "grant-minimal": lambda n: {
        **grant(n),
        "spec": {"credentialRef": {"name": "c"}, "email": "bob@example.org"},
    },
}


def _without_defaults(stored: Any, sent: Any) -> Any:
    """`stored` restricted to the keys that were sent (the apiserver adds defaults)."""
    if isinstance(stored, dict) and isinstance(sent, dict):
        return {k: _without_defaults(v, sent[k]) for k, v in stored.items() if k in sent}
    return stored


@pytest.mark.parametrize("make", VALID.values(), ids=VALID.keys())
def test_valid_objects_are_accepted(kube: Kubectl, make: Callable[[str], dict[str, Any]]) -> None:
    obj = make(_unique("ok"))
    result = kube.create(obj)
    assert result.returncode == 0, result.stderr
    stored = kube.get(obj["kind"].lower(), obj["metadata"]["name"])
    assert _without_defaults(stored["spec"], obj["spec"]) == obj["spec"]


def test_defaults_are_applied_by_the_apiserver(kube: Kubectl) -> None:
    obj = ms_connector(_unique("defaults"))
    kube.ok("create", "-f", "-", input=yaml.safe_dump(obj))
    spec = kube.get("nylasconnector", obj["metadata"]["name"])["spec"]
    assert spec["application"]["region"] == "us"
    assert spec["deletionPolicy"] == "Orphan"
    cred = {
        **admin_credential(_unique("defaults")),
        "spec": {"connectorRef": {"name": "ms"}, "type": "adminconsent", "adminConsent": {}},
    }
    kube.ok("create", "-f", "-", input=yaml.safe_dump(cred))
    assert kube.get("nylascredential", cred["metadata"]["name"])["spec"]["adminConsent"]["tenant"] == "common"


def test_server_side_apply_works(kube: Kubectl) -> None:
    obj = grant(_unique("ssa"))
    kube.ok("apply", "--server-side", "--field-manager=test", "-f", "-", input=yaml.safe_dump(obj))
    obj["spec"]["scopeCacheDelay"] = "10m"
    kube.ok("apply", "--server-side", "--field-manager=test", "-f", "-", input=yaml.safe_dump(obj))
    assert kube.get("sag", obj["metadata"]["name"])["spec"]["scopeCacheDelay"] == "10m"


# --- invalid objects -------------------------------------------------------------------------------


def _set(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of obj with the dotted `path` set to value (or removed when value is _DELETE)."""
    out = copy.deepcopy(obj)
    *parents, leaf = path.split(".")
    node = out
    for part in parents:
        node = node[part]
    if value is _DELETE:
        del node[leaf]
    else:
        node[leaf] = value
    return out


_DELETE = object()
_SCOPES_65 = [f"scope-{i}" for i in range(65)]

# (id, base object, dotted path, value, expected message fragment)
INVALID: list[tuple[str, Callable[[], dict[str, Any]], str, Any, str]] = [
    # NylasConnector
    ("connector-unknown-provider", ms_connector, "spec.provider", "yahoo", 'Unsupported value: "yahoo"'),
    (
        "connector-unknown-region",
        ms_connector,
        "spec.application.region",
        "asia",
        'Unsupported value: "asia"',
    ),
    (
        "connector-unknown-deletion-policy",
        ms_connector,
        "spec.deletionPolicy",
        "Keep",
        'Unsupported value: "Keep"',
    ),
    (
        "connector-missing-application",
        ms_connector,
        "spec.application",
        _DELETE,
        "spec.application: Required value",
    ),
    (
        "connector-missing-client-secret",
        ms_connector,
        "spec.providerApp.clientSecretRef",
        _DELETE,
        "spec.providerApp.clientSecretRef: Required value",
    ),
    (
        "connector-api-url-plain-http",
        ms_connector,
        "spec.application.apiUrl",
        "http://api.example.com",
        "must be an https URL",
    ),
    (
        "connector-api-url-fake-loopback",
        ms_connector,
        "spec.application.apiUrl",
        "http://127.example.com/",
        "must be an https URL",
    ),
    (
        "connector-api-url-not-a-url",
        ms_connector,
        "spec.application.apiUrl",
        "api.us.nylas.com",
        "must be an https URL",
    ),
    (
        "connector-secret-ref-namespace",
        ms_connector,
        "spec.application.apiKeySecretRef.namespace",
        "other",
        'unknown field "spec.application.apiKeySecretRef.namespace"',
    ),
    (
        "connector-secret-ref-not-a-name",
        ms_connector,
        "spec.application.apiKeySecretRef.name",
        "other/nylas",
        "must be the name of an object in this namespace",
    ),
    (
        "connector-secret-key-with-space",
        ms_connector,
        "spec.application.apiKeySecretRef.key",
        "api key",
        "must be a Secret data key",
    ),
    (
        "connector-google-without-scopes",
        google_connector,
        "spec.scopes",
        _DELETE,
        "a google connector needs spec.scopes",
    ),
    (
        "connector-microsoft-with-topic",
        ms_connector,
        "spec.providerApp.topicName",
        "projects/p/topics/t",
        "topicName is only valid for provider google",
    ),
    (
        "connector-google-with-tenant",
        google_connector,
        "spec.providerApp.tenant",
        "contoso",
        "tenant is only valid for provider microsoft",
    ),
    ("connector-too-many-scopes", google_connector, "spec.scopes", _SCOPES_65, "must have at most 64 items"),
    # NylasCredential
    ("credential-unknown-type", admin_credential, "spec.type", "oauth", 'Unsupported value: "oauth"'),
    (
        "credential-scopes-with-common-tenant",
        admin_credential,
        "spec.adminConsent.tenant",
        "common",
        "custom scopes need a specific tenant",
    ),
    (
        "credential-scopes-with-organizations-tenant",
        admin_credential,
        "spec.adminConsent.tenant",
        "organizations",
        "custom scopes need a specific tenant",
    ),
    (
        "credential-scopes-without-tenant",
        admin_credential,
        "spec.adminConsent.tenant",
        _DELETE,
        "custom scopes need a specific tenant",
    ),
    (
        "credential-serviceaccount-without-key",
        sa_credential,
        "spec.serviceAccount",
        _DELETE,
        "type serviceaccount needs spec.serviceAccount",
    ),
    (
        "credential-adminconsent-with-service-account",
        admin_credential,
        "spec.serviceAccount",
        {"keySecretRef": {"name": "k", "key": "k"}},
        "spec.serviceAccount is only valid with type serviceaccount",
    ),
    (
        "credential-serviceaccount-with-admin-consent",
        sa_credential,
        "spec.adminConsent",
        {"tenant": "t"},
        "spec.adminConsent is only valid with type adminconsent",
    ),
    (
        "credential-client-id-without-secret",
        admin_credential,
        "spec.adminConsent.clientId",
        "azure-app",
        "clientId and spec.adminConsent.clientSecretRef go together",
    ),
    (
        "credential-redirect-uri-plain-http",
        admin_credential,
        "spec.adminConsent.redirectUri",
        "http://operator.example.com/cb",
        "must be an https URL",
    ),
    (
        "credential-bad-scope-cache-delay",
        admin_credential,
        "spec.scopeCacheDelay",
        "5 minutes",
        "must be a duration such as 90s, 5m or 1h30m",
    ),
    (
        "credential-missing-connector-ref",
        admin_credential,
        "spec.connectorRef",
        _DELETE,
        "spec.connectorRef: Required value",
    ),
    (
        "credential-connector-ref-namespace",
        sa_credential,
        "spec.connectorRef.namespace",
        "other",
        'unknown field "spec.connectorRef.namespace"',
    ),
    # ServiceAccountGrant
    ("grant-bad-email", grant, "spec.email", "alice.contoso.com", "must be an email address"),
    ("grant-missing-email", grant, "spec.email", _DELETE, "spec.email: Required value"),
    ("grant-missing-spec", grant, "spec", _DELETE, "spec: Required value"),
    ("grant-bad-scope-cache-delay", grant, "spec.scopeCacheDelay", "5", "must be a duration"),
    (
        "grant-credential-ref-uppercase",
        grant,
        "spec.credentialRef.name",
        "Contoso",
        "must be the name of an object in this namespace",
    ),
    (
        "grant-secret-target-not-a-name",
        grant,
        "spec.writeGrantToSecret.name",
        "ns/secret",
        "must be the name of an object in this namespace",
    ),
    ("grant-empty-scope", grant, "spec.scopes", [""], "should be at least 1 chars long"),
    # Two scopes pasted into one item would fail only at consent or grant time.
    ("grant-scope-with-space", grant, "spec.scopes", ["Mail.Read User.Read"], "one scope without whitespace"),
    (
        "connector-scope-with-newline",
        google_connector,
        "spec.scopes",
        ["https://www.googleapis.com/auth/gmail.readonly\nx"],
        "one scope without whitespace",
    ),
    (
        "credential-scope-with-tab",
        admin_credential,
        "spec.adminConsent.scopes",
        ["Mail.Read\tUser.Read"],
        "one scope without whitespace",
    ),
    ("grant-unknown-deletion-policy", grant, "spec.deletionPolicy", "Retain", 'Unsupported value: "Retain"'),
]


@pytest.mark.parametrize(
    ("base", "path", "value", "fragment"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_objects_are_rejected(
    kube: Kubectl, base: Callable[[], dict[str, Any]], path: str, value: Any, fragment: str
) -> None:
    obj = _set(base(), path, value)
    obj["metadata"]["name"] = _unique("bad")
    result = kube.create(obj)
    assert result.returncode != 0, f"accepted: {obj}"
    assert fragment in result.stderr


# --- update-time rules -----------------------------------------------------------------------------

UPDATES: list[tuple[str, Callable[[], dict[str, Any]], dict[str, Any], str]] = [
    (
        "connector-provider",
        ms_connector,
        {"spec": {"provider": "google", "scopes": ["s"], "providerApp": {"tenant": None}}},
        "spec.provider is immutable",
    ),
    (
        "connector-client-id",
        ms_connector,
        {"spec": {"application": {"clientId": "another-teams-application"}}},
        "spec.application.clientId is immutable",
    ),
    (
        "connector-region",
        ms_connector,
        {"spec": {"application": {"region": "eu"}}},
        "spec.application.region is immutable",
    ),
    (
        "connector-api-url",
        ms_connector,
        {"spec": {"application": {"apiUrl": "https://nylas.attacker.example"}}},
        "spec.application.apiUrl is immutable",
    ),
    (
        "credential-type",
        sa_credential,
        {"spec": {"type": "adminconsent", "serviceAccount": None}},
        "spec.type is immutable",
    ),
    (
        "credential-connector-ref",
        sa_credential,
        {"spec": {"connectorRef": {"name": "other"}}},
        "spec.connectorRef is immutable",
    ),
    ("grant-email", grant, {"spec": {"email": "mallory@contoso.com"}}, "spec.email is immutable"),
    (
        "grant-credential-ref",
        grant,
        {"spec": {"credentialRef": {"name": "other"}}},
        "spec.credentialRef is immutable",
    ),
]


@pytest.mark.parametrize(("make", "patch", "fragment"), [u[1:] for u in UPDATES], ids=[u[0] for u in UPDATES])
def test_immutable_fields_cannot_change(
    kube: Kubectl, make: Callable[[], dict[str, Any]], patch: dict[str, Any], fragment: str
) -> None:
    obj = make()
    obj["metadata"]["name"] = _unique("immutable")
    kube.ok("create", "-f", "-", input=yaml.safe_dump(obj))
    resource = obj["kind"].lower()
    result = kube.patch(resource, obj["metadata"]["name"], patch)
    assert result.returncode != 0, "the change was accepted"
    assert fragment in result.stderr
    # A change of a mutable field still goes through.
    kube.ok(
        "patch",
        resource,
        obj["metadata"]["name"],
        "--type=merge",
        "-p",
        '{"spec":{"deletionPolicy":"Delete"}}',
    )


# --- kubectl explain -------------------------------------------------------------------------------

EXPLAIN = [
    ("serviceaccountgrant.spec.email", "The mailbox address. Immutable."),
    ("serviceaccountgrant.status.eligibleAt", "the grant is created no earlier than this time"),
    ("nylasconnector.spec.application.region", "Nylas data region of the application"),
    ("nylascredential.spec.adminConsent.tenant", "The customer's Entra tenant id"),
    ("nylascredential.spec", "Desired state of a connector credential"),
    ("nylascredential", "NylasCredential is a connector credential"),
]


@pytest.mark.parametrize(("field", "text"), EXPLAIN, ids=[e[0] for e in EXPLAIN])
def test_kubectl_explain_shows_descriptions(kube: Kubectl, field: str, text: str) -> None:
    # The apiserver publishes a new CRD's OpenAPI a moment after it is established.
    deadline = time.monotonic() + 30
    while True:
        result = kube.run("explain", field, namespaced=False)
        output = " ".join(result.stdout.split())
        if (result.returncode == 0 and text in output) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert result.returncode == 0, result.stderr
    assert text in output


# --- status subresource ----------------------------------------------------------------------------

READY_CONDITION = {
    "type": "Ready",
    "status": "True",
    "reason": "Available",
    "message": "grant is valid",
    "lastTransitionTime": "2026-01-02T03:04:05Z",
    "observedGeneration": 1,
}


def test_status_is_written_only_through_the_status_subresource(kube: Kubectl) -> None:
    obj = grant(_unique("status"))
    name = obj["metadata"]["name"]
    kube.ok("create", "-f", "-", input=yaml.safe_dump(obj))

    # On the main resource, status is ignored (and a spec change there is accepted).
    kube.ok(
        "patch",
        "sag",
        name,
        "--type=merge",
        "-p",
        json.dumps({"status": {"phase": "Ready"}, "spec": {"scopeCacheDelay": "7m"}}),
    )
    stored = kube.get("sag", name)
    assert "status" not in stored or "phase" not in stored["status"]
    assert stored["spec"]["scopeCacheDelay"] == "7m"

    # On /status, status sticks and a spec change is ignored.
    status = {"phase": "Ready", "grantId": "g-123", "conditions": [READY_CONDITION]}
    kube.ok(
        "patch",
        "sag",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status, "spec": {"scopeCacheDelay": "9m"}}),
    )
    stored = kube.get("sag", name)
    assert stored["status"] == status
    assert stored["spec"]["scopeCacheDelay"] == "7m"


def _full_status(kind: str) -> dict[str, Any]:
    """A status with every field the operator can write, taken from the models' schemas."""
    info = next(i for i in KINDS if i.kind == kind)
    schema = build_crd(info)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    example: dict[str, Any] = _example(schema)
    return example


def _example(schema: dict[str, Any]) -> Any:
    kind = schema["type"]
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object" and "properties" in schema:
        return {name: _example(sub) for name, sub in schema["properties"].items()}
    if kind == "object":
        return {"a": "1", "b": "2"}
    if kind == "array":
        item = _example(schema["items"])
        if isinstance(item, dict) and "type" in item:
            item["type"] = "Ready"
        return [item]
    if kind == "integer":
        return 3
    if kind == "boolean":
        return True
    return "text"


@pytest.mark.parametrize("kind", ["NylasConnector", "NylasCredential", "ServiceAccountGrant"])
def test_every_status_field_survives_pruning(kube: Kubectl, kind: str) -> None:
    makers: dict[str, Callable[[], dict[str, Any]]] = {
        "NylasConnector": ms_connector,
        "NylasCredential": sa_credential,
        "ServiceAccountGrant": grant,
    }
    obj = makers[kind]()
    obj["metadata"]["name"] = _unique("prune")
    kube.ok("create", "-f", "-", input=yaml.safe_dump(obj))
    status = _full_status(kind)
    kube.ok(
        "patch",
        kind.lower(),
        obj["metadata"]["name"],
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )
    assert kube.get(kind.lower(), obj["metadata"]["name"])["status"] == status


# --- categories, short names, printer columns ------------------------------------------------------


@pytest.fixture(scope="module")
def listed(kube: Kubectl) -> dict[str, str]:
    """One object of each kind, with a status, for the listing tests."""
    names = {
        "nylasconnector": "list-ms",
        "nylascredential": "list-contoso",
        "serviceaccountgrant": "list-alice",
    }
    for maker, (resource, name) in zip((ms_connector, admin_credential, grant), names.items(), strict=True):
        kube.ok("create", "-f", "-", input=yaml.safe_dump(maker(name)))
        status = {
            "phase": "AwaitingConsent",
            "consentUrl": "https://api.us.nylas.com/v3/connect/auth?client_id=app-123",
            "conditions": [{**READY_CONDITION, "status": "False", "reason": "AwaitingConsent"}],
        }
        if resource == "serviceaccountgrant":
            status |= {"grantId": "grant-42", "eligibleAt": "2026-01-02T03:09:05Z"}
        if resource != "nylascredential":
            del status["consentUrl"]
        kube.ok(
            "patch",
            resource,
            name,
            "--subresource=status",
            "--type=merge",
            "-p",
            json.dumps({"status": status}),
        )
    return names


def test_category_lists_all_three_kinds(kube: Kubectl, listed: dict[str, str]) -> None:
    out = kube.ok("get", "nylas", "-o", "name")
    for resource, name in listed.items():
        assert f"{resource}.nylas-operator.io/{name}" in out.split()


@pytest.mark.parametrize(
    ("short", "resource"),
    [
        ("nyc", "nylasconnector"),
        ("nyconn", "nylasconnector"),
        ("nycred", "nylascredential"),
        ("sag", "serviceaccountgrant"),
        ("nygrant", "serviceaccountgrant"),
    ],
)
def test_short_names(kube: Kubectl, listed: dict[str, str], short: str, resource: str) -> None:
    out = kube.ok("get", short, listed[resource], "-o", "name")
    assert out.strip() == f"{resource}.nylas-operator.io/{listed[resource]}"


def _table(text: str) -> list[list[str]]:
    return [line.split() for line in text.strip().splitlines()]


def test_printer_columns(kube: Kubectl, listed: dict[str, str]) -> None:
    header, row = _table(kube.ok("get", "sag", listed["serviceaccountgrant"]))
    assert header == ["NAME", "EMAIL", "READY", "PHASE", "GRANT", "ELIGIBLE", "AGE"]
    assert row[:6] == [
        "list-alice",
        "alice@contoso.com",
        "False",
        "AwaitingConsent",
        "grant-42",
        "2026-01-02T03:09:05Z",
    ]

    header, row = _table(kube.ok("get", "sag", listed["serviceaccountgrant"], "-o", "wide"))
    assert header == [
        "NAME",
        "EMAIL",
        "READY",
        "PHASE",
        "GRANT",
        "ELIGIBLE",
        "REASON",
        "CREDENTIAL",
        "AGE",
    ]
    assert row[6:8] == ["AwaitingConsent", "contoso"] and "https" not in " ".join(row)

    header, row = _table(kube.ok("get", "nycred", listed["nylascredential"], "-o", "wide"))
    assert header == [
        "NAME",
        "CONNECTOR",
        "TYPE",
        "READY",
        "PHASE",
        "SETTLED",
        "REASON",
        "CREDENTIAL",
        "CONSENT-URL",
        "AGE",
    ]
    assert row[1:5] == ["ms", "adminconsent", "False", "AwaitingConsent"]

    header, row = _table(kube.ok("get", "nyc", listed["nylasconnector"]))
    assert header == ["NAME", "PROVIDER", "REGION", "READY", "PHASE", "AGE"]
    assert row[1:5] == ["microsoft", "us", "False", "AwaitingConsent"]
