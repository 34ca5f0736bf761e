"""The bad-input catalogue, runtime half (issue 6): every bad input gets a precise reason; none
crashes the operator, loops hot, or disturbs the good objects next to it.

One operator process and one namespace serve the whole module: every bad object is applied at
once beside a healthy baseline (connectors, a Google credential and grant), then each case waits
for its own condition. The closing tests check the process (alive, no unhandled exception), the
load over a quiet window (reconciles and Nylas calls bounded), and the baseline (still Ready, its
grant still in Nylas). Admission-time bad inputs are in tests/integration/test_crds.py; the full
table is docs/bad-inputs.md.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import yaml

from e2e import kube as k
from e2e.test_google import SCOPES
from fixtures import leaks
from fixtures.controlplane import namespace_name
from fixtures.emulator import FAKE_PEM, google_key
from fixtures.operator import DEFAULT_OPTIONS, OperatorProcess
from nylas_operator.emulator.config import ApplicationConfig, Behaviour, EmulatorConfig
from nylas_operator.emulator.harness import RunningEmulator, run_emulator

pytestmark = pytest.mark.cluster

CASE_TIMEOUT = 90.0
QUIET_WINDOW = 20.0


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Case:
    """One bad input: the objects to apply and the condition it must end in."""

    id: str
    objects: Callable[[World], list[dict[str, Any]]]
    kind: str
    name: str
    reason: str
    fragment: str | Callable[[World], str]
    condition: str = "Ready"
    phase: str | None = None
    """Expected ``status.phase`` (e.g. ``Failed`` for terminal input), if it matters."""
    nylas_writes: bool = False
    """Whether the object may write to Nylas (malformed keys, for one, must never be sent)."""


@dataclass
class World:
    ns: str
    emu: RunningEmulator
    other_region: RunningEmulator
    unreachable: str
    operator: OperatorProcess
    kubectl: k.Kubectl
    extra: dict[str, Any] = field(default_factory=dict)


# --- manifests --------------------------------------------------------------------------------------


def raw_secret(name: str, data: dict[str, bytes]) -> dict[str, Any]:
    body = k.secret(name, {})
    body["data"] = {key: base64.b64encode(value).decode() for key, value in data.items()}
    return body


def bad_connector(w: World, name: str, provider: str = "microsoft", **changes: Any) -> dict[str, Any]:
    """A connector of its own Nylas application id (so it never competes with the good ones)."""
    body = k.connector(name, w.emu, provider, scopes=SCOPES if provider == "google" else None)
    app = body["spec"]["application"]
    app["clientId"] = f"app-{name}"
    for key, value in changes.items():
        section, _, leaf = key.partition(".")
        target = body["spec"][section] if leaf else body["spec"]
        target[leaf or section] = value
    return body


def sa_credential(name: str, secret: str, key: str = "key.json", connector: str = "google") -> dict[str, Any]:
    return k.credential(
        name, connector, "serviceaccount", serviceAccount={"keySecretRef": {"name": secret, "key": key}}
    )


def google_key_case(case_id: str, key_text: str, fragment: str) -> Case:
    secret = f"key-{case_id}"
    return Case(
        id=f"google-key-{case_id}",
        objects=lambda w: [k.secret(secret, {"key.json": key_text}), sa_credential(f"sa-{case_id}", secret)],
        kind="nylascredential",
        name=f"sa-{case_id}",
        reason="InvalidServiceAccountKey",
        fragment=fragment,
        phase="Failed",
    )


def baseline(w: World) -> list[dict[str, Any]]:
    return [
        k.secret(k.API_KEY_SECRET, {"apiKey": w.emu.api_key}),
        k.secret(k.AZURE_SECRET, {"clientSecret": k.AZURE_CLIENT_SECRET}),
        k.secret(k.GOOGLE_SECRET, {"key.json": json.dumps(google_key())}),
        k.connector("microsoft", w.emu, "microsoft"),
        k.connector("google", w.emu, "google", scopes=SCOPES),
        k.credential("contoso", "microsoft", "adminconsent"),
        k.credential("refused", "microsoft", "adminconsent", adminConsent={"tenant": "refused.example"}),
        sa_credential("workspace", k.GOOGLE_SECRET),
        k.grant("dana", "workspace", "dana@acme.example", scopes=SCOPES),
        k.grant("erin", "workspace", "erin@acme.example", scopes=SCOPES),
    ]


BASELINE_READY = [
    ("nylasconnector", "microsoft"),
    ("nylasconnector", "google"),
    ("nylascredential", "workspace"),
    ("serviceaccountgrant", "dana"),
    ("serviceaccountgrant", "erin"),
]

# --- the catalogue (runtime) ------------------------------------------------------------------------

FORGED_RESULT = json.dumps({"stateHash": "0" * 64, "at": "2020-01-01T00:00:00Z", "granted": True})

CASES: list[Case] = [
    # Secrets and keys of a connector
    Case(
        "api-key-secret-missing",
        lambda w: [
            bad_connector(
                w, "c-no-key-secret", **{"application.apiKeySecretRef": {"name": "absent", "key": "apiKey"}}
            )
        ],
        "nylasconnector",
        "c-no-key-secret",
        "SecretNotFound",
        "Secret 'absent' (Nylas API key) does not exist",
    ),
    Case(
        "api-key-key-missing",
        lambda w: [
            bad_connector(
                w,
                "c-no-key-key",
                **{"application.apiKeySecretRef": {"name": k.API_KEY_SECRET, "key": "token"}},
            )
        ],
        "nylasconnector",
        "c-no-key-key",
        "SecretKeyNotFound",
        "has no non-empty key 'token' (Nylas API key)",
    ),
    Case(
        "api-key-blank",
        lambda w: [
            k.secret("blank-key", {"apiKey": "  \n"}),
            bad_connector(
                w, "c-blank-key", **{"application.apiKeySecretRef": {"name": "blank-key", "key": "apiKey"}}
            ),
        ],
        "nylasconnector",
        "c-blank-key",
        "SecretKeyNotFound",
        "has no non-empty key 'apiKey'",
    ),
    Case(
        "api-key-not-text",
        lambda w: [
            raw_secret("binary-key", {"apiKey": b"\xff\xfe\x00\x81"}),
            bad_connector(
                w, "c-binary-key", **{"application.apiKeySecretRef": {"name": "binary-key", "key": "apiKey"}}
            ),
        ],
        "nylasconnector",
        "c-binary-key",
        "SecretKeyNotFound",
        "has no non-empty key 'apiKey'",
    ),
    Case(
        "client-secret-missing",
        lambda w: [
            bad_connector(
                w,
                "c-no-client-secret",
                **{"providerApp.clientSecretRef": {"name": "absent-azure", "key": "clientSecret"}},
            )
        ],
        "nylasconnector",
        "c-no-client-secret",
        "SecretNotFound",
        "Secret 'absent-azure' (provider client secret)",
    ),
    Case(
        "wrong-api-key",
        lambda w: [
            k.secret("wrong-key", {"apiKey": "nyk_not_a_real_key"}),
            bad_connector(
                w, "c-wrong-key", **{"application.apiKeySecretRef": {"name": "wrong-key", "key": "apiKey"}}
            ),
        ],
        "nylasconnector",
        "c-wrong-key",
        "Unauthorized",
        lambda w: f"Nylas at {w.emu.url} rejected the API key; the usual cause is a wrong region or API key",
    ),
    Case(
        "client-id-not-the-keys-application",
        lambda w: [bad_connector(w, "c-wrong-app")],
        "nylasconnector",
        "c-wrong-app",
        "ApplicationMismatch",
        lambda w: (
            "spec.application.clientId is 'app-c-wrong-app' but the API key belongs to Nylas application "
            f"'{w.emu.application_id}'"
        ),
        phase="Failed",
    ),
    Case(
        "wrong-region",
        lambda w: [bad_connector(w, "c-wrong-region", **{"application.apiUrl": w.other_region.url})],
        "nylasconnector",
        "c-wrong-region",
        "Unauthorized",
        lambda w: f"Nylas at {w.other_region.url} rejected the API key",
    ),
    Case(
        "api-url-unreachable",
        lambda w: [bad_connector(w, "c-unreachable", **{"application.apiUrl": w.unreachable})],
        "nylasconnector",
        "c-unreachable",
        "NylasUnavailable",
        lambda w: f"cannot connect to Nylas ({w.unreachable})",
    ),
    Case(
        "api-url-not-nylas",
        lambda w: [
            bad_connector(w, "c-not-nylas", **{"application.apiUrl": w.operator.health_url.rsplit("/", 1)[0]})
        ],
        "nylasconnector",
        "c-not-nylas",
        "ReconcileError",
        "HTTP 404",
    ),
    Case(
        "api-url-not-allowed",
        # An https host that would resolve nowhere here: the refusal must come before any attempt.
        lambda w: [
            bad_connector(w, "c-not-allowed", **{"application.apiUrl": "https://nylas.attacker.example"})
        ],
        "nylasconnector",
        "c-not-allowed",
        "ApiHostNotAllowed",
        "the Nylas API host 'nylas.attacker.example' is not in the operator's allowed hosts",
        phase="Failed",
    ),
    Case(
        "second-connector-same-app-provider",
        lambda w: [k.connector("microsoft-twin", w.emu, "microsoft")],
        "nylasconnector",
        "microsoft-twin",
        "Conflict",
        "already managed by NylasConnector 'microsoft' in this namespace",
        phase="Failed",
    ),
    # Credentials: references, provider fit, Secrets
    Case(
        "credential-connector-not-found",
        lambda w: [k.credential("cr-orphan", "no-such-connector", "adminconsent")],
        "nylascredential",
        "cr-orphan",
        "ConnectorNotFound",
        "NylasConnector 'no-such-connector' does not exist",
    ),
    Case(
        "credential-connector-not-ready",
        lambda w: [k.credential("cr-parent-broken", "c-no-key-secret", "adminconsent")],
        "nylascredential",
        "cr-parent-broken",
        "ConnectorNotReady",
        "NylasConnector 'c-no-key-secret' is not Ready yet",
    ),
    Case(
        "adminconsent-on-google",
        lambda w: [k.credential("cr-ac-google", "google", "adminconsent")],
        "nylascredential",
        "cr-ac-google",
        "WrongProvider",
        "type adminconsent does not fit a google connector (use serviceaccount)",
        phase="Failed",
    ),
    Case(
        "serviceaccount-on-microsoft",
        lambda w: [sa_credential("cr-sa-microsoft", k.GOOGLE_SECRET, connector="microsoft")],
        "nylascredential",
        "cr-sa-microsoft",
        "WrongProvider",
        "type serviceaccount does not fit a microsoft connector (use adminconsent)",
        phase="Failed",
    ),
    Case(
        "google-key-secret-missing",
        lambda w: [sa_credential("cr-no-key-secret", "absent-google-key")],
        "nylascredential",
        "cr-no-key-secret",
        "SecretNotFound",
        "Secret 'absent-google-key' (Google service account key) does not exist",
    ),
    Case(
        "google-key-key-missing",
        lambda w: [sa_credential("cr-no-key-key", k.GOOGLE_SECRET, key="sa.json")],
        "nylascredential",
        "cr-no-key-key",
        "SecretKeyNotFound",
        "has no non-empty key 'sa.json'",
    ),
    Case(
        "azure-client-secret-missing",
        lambda w: [
            k.credential(
                "cr-no-azure-secret",
                "microsoft",
                "adminconsent",
                adminConsent={
                    "tenant": "fabrikam.example",
                    "clientId": "own-app",
                    "clientSecretRef": {"name": "absent-azure-app", "key": "clientSecret"},
                },
            )
        ],
        "nylascredential",
        "cr-no-azure-secret",
        "SecretNotFound",
        "Secret 'absent-azure-app' (Azure app client secret)",
    ),
    google_key_case("not-json", "{not json", "not valid JSON (line 1, column 2)"),
    google_key_case("json-array", json.dumps([google_key()]), "not a JSON object"),
    google_key_case(
        "no-client-email", json.dumps(google_key(client_email=None)), "missing or empty 'client_email'"
    ),
    google_key_case(
        "empty-key-id", json.dumps(google_key(private_key_id="")), "missing or empty 'private_key_id'"
    ),
    google_key_case(
        "key-not-string", json.dumps({**google_key(), "private_key": 42}), "missing or empty 'private_key'"
    ),
    google_key_case(
        "not-pem", json.dumps(google_key(private_key="MIIEvQIBADANBgkq")), "not a PEM private key (no BEGIN"
    ),
    google_key_case(
        "pem-without-end",
        json.dumps(google_key(private_key=FAKE_PEM.split("-----END")[0])),
        "not a PEM private key (no END line)",
    ),
    google_key_case(
        "user-credentials", json.dumps(google_key(type="authorized_user")), "'type' is not 'service_account'"
    ),
    google_key_case(
        "email-not-an-email",
        json.dumps(google_key(client_email="bulk-at-acme")),
        "'client_email' is not an email address",
    ),
    # Consent by annotation: only the exact word, only a state the operator issued
    Case(
        "admin-consent-annotation-not-granted",
        lambda w: [
            annotated(
                k.credential("cr-consent-yes", "microsoft", "adminconsent"),
                {"nylas-operator.io/admin-consent": "yes"},
            )
        ],
        "nylascredential",
        "cr-consent-yes",
        "AwaitingConsent",
        "waiting for admin consent",
        condition="ConsentGranted",
    ),
    Case(
        "forged-consent-result-annotation",
        lambda w: [
            annotated(
                k.credential("cr-forged", "microsoft", "adminconsent"),
                {"nylas-operator.io/consent-default": FORGED_RESULT},
            )
        ],
        "nylascredential",
        "cr-forged",
        "AwaitingConsent",
        "waiting for admin consent",
        condition="ConsentGranted",
    ),
    Case(
        "garbage-consent-result-annotation",
        lambda w: [
            annotated(
                k.credential("cr-garbage", "microsoft", "adminconsent"),
                {"nylas-operator.io/consent-default": "{{{"},
            )
        ],
        "nylascredential",
        "cr-garbage",
        "AwaitingConsent",
        "waiting for admin consent",
        condition="ConsentGranted",
    ),
    # Grants
    Case(
        "grant-credential-not-found",
        lambda w: [k.grant("g-orphan", "no-such-credential", "orphan@acme.example")],
        "serviceaccountgrant",
        "g-orphan",
        "CredentialNotFound",
        "NylasCredential 'no-such-credential' does not exist",
    ),
    Case(
        "grant-connector-not-found",
        lambda w: [k.grant("g-no-connector", "cr-orphan", "lost@acme.example")],
        "serviceaccountgrant",
        "g-no-connector",
        "ConnectorNotFound",
        "NylasConnector 'no-such-connector' does not exist",
    ),
    Case(
        "grant-credential-not-in-nylas",
        lambda w: [k.grant("g-on-broken", "cr-ac-google", "broken@acme.example", scopes=SCOPES)],
        "serviceaccountgrant",
        "g-on-broken",
        "CredentialNotReady",
        "NylasCredential 'cr-ac-google' is not in Nylas yet",
    ),
    Case(
        "microsoft-scopes-on-common-tenant",
        lambda w: [k.grant("g-ms-scopes", "contoso", "scoped@contoso.example", scopes=["Mail.Read"])],
        "serviceaccountgrant",
        "g-ms-scopes",
        "CustomScopesNeedTenant",
        "custom scopes need a credential for a specific tenant",
        phase="Failed",
    ),
    Case(
        "second-grant-same-mailbox",
        lambda w: [k.grant("dana-twin", "workspace", "DANA@acme.example", scopes=SCOPES)],
        "serviceaccountgrant",
        "dana-twin",
        "Conflict",
        "mailbox DANA@acme.example in this Nylas application is already managed by "
        "ServiceAccountGrant 'dana' in this namespace",
        phase="Failed",
    ),
    Case(
        "output-secret-owned-by-someone-else",
        lambda w: [
            k.secret("taken", {"grant_id": "not-ours"}),
            k.grant(
                "g-taken",
                "workspace",
                "taken@acme.example",
                scopes=SCOPES,
                writeGrantToSecret={"name": "taken"},
            ),
        ],
        "serviceaccountgrant",
        "g-taken",
        "Conflict",
        "Secret 'taken' exists and the operator did not create it: not overwritten",
        condition="Synced",
        nylas_writes=True,
    ),
]


def annotated(body: dict[str, Any], annotations: dict[str, str]) -> dict[str, Any]:
    body["metadata"]["annotations"] = annotations
    return body


# --- the world --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(control_plane: Any) -> Iterator[World]:
    ns = namespace_name("bad-inputs")
    control_plane.kubectl("create", "namespace", ns)
    workdir = leaks.log_dir()  # the session's operator logs: the leak scan reads them
    emu_config = EmulatorConfig(behaviour=Behaviour(scope_cache_delay=1.0))
    other_config = EmulatorConfig(applications=(ApplicationConfig("eu-application", "nyk_eu_only_key"),))
    flags = [a for key, value in DEFAULT_OPTIONS.items() for a in (f"--{key.replace('_', '-')}", value)]
    with run_emulator(emu_config) as emu, run_emulator(other_config) as other:
        operator = OperatorProcess([ns], flags, workdir, str(control_plane.kubeconfig))
        w = World(ns, emu, other, f"http://127.0.0.1:{closed_port()}", operator, control_plane.kubectl)
        operator.start()
        objects = baseline(w) + [obj for case in CASES for obj in case.objects(w)]
        names = [(o["kind"], o["metadata"]["name"]) for o in objects]
        assert len(set(names)) == len(names), "case objects must have unique names"
        control_plane.kubectl(
            "apply", "--server-side", "-n", ns, "-f", "-", input=yaml.safe_dump_all(objects), timeout=120
        )
        try:
            yield w
        finally:
            operator.kill()
            leaks.snapshot_namespace(control_plane.kubectl, ns)
            control_plane.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def expected_fragment(case: Case, w: World) -> str:
    return case.fragment(w) if callable(case.fragment) else case.fragment


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_runtime_bad_input_gets_a_precise_reason(world: World, case: Case) -> None:
    obj = k.wait_condition(
        world.kubectl, world.ns, case.kind, case.name, case.condition, "False",
        reason=case.reason, timeout=CASE_TIMEOUT,
    )  # fmt: skip
    cond = k.condition(obj, case.condition) or {}
    assert expected_fragment(case, world) in cond.get("message", ""), cond
    if case.condition != "Ready":
        ready = k.condition(obj, "Ready") or {}
        assert ready.get("status") in ("True", "False"), obj.get("status")
    if case.phase:
        assert obj["status"].get("phase") == case.phase, obj["status"]
    if case.kind == "nylascredential" and not case.nylas_writes:
        name = f"k8s:{world.ns}/{case.name}"
        sent = [c for c in world.emu.credentials() if c["name"] == name]
        if case.reason not in ("AwaitingConsent",):
            assert not sent, f"{case.id}: the credential reached Nylas"


def test_consent_annotations_are_consumed_without_granting(world: World) -> None:
    for name in ("cr-consent-yes", "cr-forged", "cr-garbage"):

        def consumed(name: str = name) -> dict[str, Any] | None:
            obj = k.get(world.kubectl, world.ns, "nylascredential", name)
            notes = ((obj or {}).get("metadata") or {}).get("annotations") or {}
            leftover = [
                a
                for a in notes
                if a.startswith(("nylas-operator.io/consent-", "nylas-operator.io/admin-consent"))
            ]
            return obj if obj and not leftover else None

        obj = k.eventually(consumed, timeout=CASE_TIMEOUT, what=f"{name}'s consent annotations removed")
        record = obj["status"]["consent"][0]
        assert "grantedAt" not in record and record.get("consentUrl"), record


# --- callback abuse ---------------------------------------------------------------------------------


def consent_state(w: World, credential: str) -> str:
    cred = k.eventually(
        lambda: (
            (c := k.get(w.kubectl, w.ns, "nylascredential", credential))
            and (c.get("status") or {}).get("consentUrl")
            and c
        ),
        timeout=CASE_TIMEOUT,
        what=f"a consent URL on {credential}",
    )
    return parse_qs(urlparse(cred["status"]["consentUrl"]).query)["state"][0]


CALLBACK_ABUSE: list[tuple[str, str, Callable[[World], dict[str, Any]], int]] = [
    ("unknown-state", "GET", lambda w: {"query": "admin_consent=true&state=" + "A" * 43}, 400),
    ("no-state", "GET", lambda w: {"query": "admin_consent=true&tenant=t"}, 400),
    ("malformed-state", "GET", lambda w: {"query": "admin_consent=true&state=%3Cscript%3E"}, 400),
    ("no-outcome", "GET", lambda w: {"query": "state=" + consent_state(w, "contoso")}, 400),
    (
        "duplicated-state",
        "GET",
        lambda w: {"query": f"admin_consent=true&state={consent_state(w, 'contoso')}&state=B"},
        400,
    ),
    ("huge-query", "GET", lambda w: {"query": "admin_consent=true&state=x&pad=" + "p" * 6000}, 400),
    ("oversized-request-line", "GET", lambda w: {"query": "pad=" + "p" * 20000}, 400),
    ("post", "POST", lambda w: {"query": "admin_consent=true&state=" + consent_state(w, "contoso")}, 405),
    ("post-with-body", "POST", lambda w: {"query": "", "content": b"x" * 10000}, 405),
    ("unknown-path", "GET", lambda w: {"query": "", "path": "/consent/elsewhere"}, 404),
]


@pytest.mark.parametrize(
    ("method", "make", "status"), [c[1:] for c in CALLBACK_ABUSE], ids=[c[0] for c in CALLBACK_ABUSE]
)
def test_callback_abuse_is_refused(
    world: World, method: str, make: Callable[[World], dict[str, Any]], status: int
) -> None:
    spec = make(world)
    base = world.operator.callback_url
    if "path" in spec:
        base = base.replace("/consent/callback", spec["path"])
    url = f"{base}?{spec['query']}" if spec["query"] else base
    answer = httpx.request(method, url, content=spec.get("content"), timeout=10)
    assert answer.status_code == status, answer.text[:300]
    assert "Traceback" not in answer.text
    # Nothing was recorded for the real credential: it still waits, with the same URL.
    consent_state(world, "contoso")
    cred = k.get(world.kubectl, world.ns, "nylascredential", "contoso")
    assert cred is not None and not cred["status"]["consent"][0].get("grantedAt")
    assert "nylas-operator.io/consent-default" not in (cred["metadata"].get("annotations") or {})


def test_refusal_by_the_admin_is_shown_and_the_same_url_still_works(world: World) -> None:
    state = consent_state(world, "refused")
    query = f"error=access_denied&error_description=The+admin+said+no&state={state}"
    answer = httpx.get(f"{world.operator.callback_url}?{query}", timeout=10)
    assert answer.status_code == 200, answer.text[:300]
    cred = k.wait_condition(
        world.kubectl, world.ns, "nylascredential", "refused", "ConsentGranted", "False",
        reason="ConsentDenied", timeout=CASE_TIMEOUT,
    )  # fmt: skip
    assert "access_denied: The admin said no" in (k.condition(cred, "ConsentGranted") or {})["message"]
    # Not burnt (anyone holding the URL can send a refusal): the same URL stays and still works.
    assert state in cred["status"]["consentUrl"], "the refusal replaced the URL"
    again = httpx.get(f"{world.operator.callback_url}?{query}", timeout=10)
    assert again.status_code == 200


# --- none crashes, loops hot, or loses data ---------------------------------------------------------


def _metric_total(text: str, name: str) -> float:
    pattern = re.compile(rf"^{name}(?:\{{[^}}]*\}})? ([0-9.e+-]+)$", re.MULTILINE)
    return sum(float(v) for v in pattern.findall(text))


def test_zz_no_crash_no_hot_loop_no_data_loss(world: World) -> None:
    # Runs last (module order): every case above has settled.
    for case in CASES:
        obj = k.wait_condition(
            world.kubectl, world.ns, case.kind, case.name, case.condition, "False",
            reason=case.reason, timeout=CASE_TIMEOUT,
        )  # fmt: skip
        cond = k.condition(obj, case.condition) or {}
        print(f"{case.id} | {case.kind}/{case.name} | {cond.get('reason')}: {cond.get('message')}")
    kinds = ("nylasconnectors", "nylascredentials", "serviceaccountgrants")
    objects = sum(len(k.items(world.kubectl, world.ns, kind)) for kind in kinds)
    first = httpx.get(world.operator.metrics_url, timeout=10).text
    journal_before = len(world.emu.journal()) + len(world.other_region.journal())
    time.sleep(QUIET_WINDOW)
    second = httpx.get(world.operator.metrics_url, timeout=10).text
    journal_after = len(world.emu.journal()) + len(world.other_region.journal())
    reconciles = _metric_total(second, "nylas_operator_reconcile_total") - _metric_total(
        first, "nylas_operator_reconcile_total"
    )
    attempts = _metric_total(second, "nylas_operator_nylas_requests_total") - _metric_total(
        first, "nylas_operator_nylas_requests_total"
    )
    served = journal_after - journal_before
    print(
        f"\nquiet window {QUIET_WINDOW:.0f}s, {objects} objects: {reconciles:.0f} reconciles, "
        f"{attempts:.0f} Nylas request attempts, {served} requests served by the emulators"
    )
    # Retries back off to --max-retry-delay (10 s): at most ~2 runs per failing object per window,
    # and each run makes at most a few Nylas attempts. A hot loop would be orders of magnitude more.
    assert reconciles <= 2 * objects, f"{reconciles} reconciles of {objects} objects in {QUIET_WINDOW}s"
    assert attempts <= 3 * objects and served <= 3 * objects

    assert world.operator.running, "the operator exited"
    assert world.operator.starts == 1
    logs = world.operator.logs()
    assert "failed with an exception" not in logs, "a handler raised an unexpected exception"
    lines = logs.splitlines()
    crashes = [
        "\n".join([lines[i - 1], *[x for x in lines[i : i + 400] if not x.startswith("20")][:30]])
        for i, line in enumerate(lines)
        if "Traceback" in line
    ]
    assert not crashes, crashes[0]
    assert httpx.get(world.operator.health_url, timeout=5).status_code == 200

    for kind, name in BASELINE_READY:
        obj = k.get(world.kubectl, world.ns, kind, name)
        assert (k.condition(obj, "Ready") or {}).get("status") == "True", f"{kind}/{name} lost: {obj}"
    grants = {g["email"] for g in world.emu.grants()}
    assert {"dana@acme.example", "erin@acme.example", "taken@acme.example"} <= grants
    assert "broken@acme.example" not in grants and "scoped@contoso.example" not in grants
    assert len([c for c in world.emu.connectors() if c["provider"] == "microsoft"]) == 1
