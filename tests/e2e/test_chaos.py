"""The chaos run (issue 6): hundreds of grants converge through faults, kills and an apiserver restart.

A PRIVATE control plane (its apiserver is restarted mid-run; other tests must not notice), the
emulator answering 20 % of API calls with 429 + Retry-After, 500, 503, dropped connections (before
and after the request is applied) plus latency, and the operator SIGKILLed at seeded random moments.
Consent is given while grants are already waiting for it: one credential through the operator's
callback, one by annotation. Must hold: every object Ready; exactly one Nylas credential per
NylasCredential and one grant per mailbox (created once); no grant attempted before consent + delay;
after deleting everything (``deletionPolicy: Delete``) the emulator is empty. Counts are printed.

Size: ``NYLAS_CHAOS_GRANTS`` (default 200), ``NYLAS_CHAOS_KILLS`` (default 5), ``NYLAS_CHAOS_SEED``.
Run it with ``pytest -s tests/e2e/test_chaos.py`` to see the figures.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from e2e import kube as k
from e2e.test_google import SCOPES
from fixtures.controlplane import binaries_or_fail, install_crds
from fixtures.emulator import google_key
from fixtures.operator import OperatorProcess
from nylas_operator.devcluster.controlplane import ControlPlane
from nylas_operator.emulator.config import Behaviour, EmulatorConfig, FaultConfig
from nylas_operator.emulator.harness import RunningEmulator, run_emulator

GRANTS = int(os.environ.get("NYLAS_CHAOS_GRANTS", "200"))
KILLS = int(os.environ.get("NYLAS_CHAOS_KILLS", "5"))
SEED = int(os.environ.get("NYLAS_CHAOS_SEED", "6"))
SCALE = max(1.0, GRANTS / 200)
# 20 % of API calls fail; the kinds add up to 0.20.
FAULT_RATES = {"429": 0.05, "500": 0.04, "503": 0.04, "drop": 0.035, "drop_after": 0.035}
LATENCY_MS = 15.0
OPERATOR_DELAY = 4.0  # --scope-cache-delay
EMULATOR_DELAY = 2.0  # the emulator refuses Microsoft grants for this long after consent
CONVERGE_TIMEOUT = 360.0 * SCALE
DELETE_TIMEOUT = 240.0 * SCALE
# The suite's per-test timeout (300 s) is too short for a run that may legitimately take ~10 min.
pytestmark = [
    pytest.mark.cluster,
    pytest.mark.slow,
    pytest.mark.timeout(int(CONVERGE_TIMEOUT + DELETE_TIMEOUT + 240)),
]
NS = "chaos"
MS_CREDENTIALS = ("contoso", "fabrikam")  # consent by callback, consent by annotation
OPERATOR_ARGS = (
    "--scope-cache-delay", f"{OPERATOR_DELAY:g}s",
    "--min-retry-delay", "1s",
    "--max-retry-delay", "8s",
    "--deletion-give-up", "10m",
    "--drift-interval", "10m",
    "--log-level", "INFO",  # DEBUG for hundreds of objects costs this small machine too much CPU
)  # fmt: skip


@dataclass
class Plan:
    """Which mailbox belongs to which credential."""

    mailboxes: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # credential → (name, email)

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.mailboxes.values())

    def credential_of_email(self) -> dict[str, str]:
        return {email: cred for cred, boxes in self.mailboxes.items() for _, email in boxes}


def make_plan(grants: int) -> Plan:
    google = grants * 2 // 5
    microsoft = grants - google
    plan = Plan()
    plan.mailboxes["contoso"] = [(f"ms-c-{i:05d}", f"user{i}@contoso.example") for i in range(microsoft // 2)]
    plan.mailboxes["fabrikam"] = [
        (f"ms-f-{i:05d}", f"user{i}@fabrikam.example") for i in range(microsoft - microsoft // 2)
    ]
    plan.mailboxes["workspace"] = [(f"g-{i:05d}", f"user{i}@acme.example") for i in range(google)]
    return plan


def manifests(emu: RunningEmulator, plan: Plan) -> list[dict[str, Any]]:
    delete = {"deletionPolicy": "Delete"}
    objects: list[dict[str, Any]] = [
        k.secret(k.API_KEY_SECRET, {"apiKey": emu.api_key}),
        k.secret(k.AZURE_SECRET, {"clientSecret": k.AZURE_CLIENT_SECRET}),
        k.secret(k.GOOGLE_SECRET, {"key.json": json.dumps(google_key())}),
        k.connector("microsoft", emu, "microsoft", deletion_policy="Delete"),
        k.connector("google", emu, "google", scopes=SCOPES, deletion_policy="Delete"),
        k.credential("contoso", "microsoft", "adminconsent", **delete),
        k.credential(
            "fabrikam", "microsoft", "adminconsent", adminConsent={"tenant": "fabrikam.example"}, **delete
        ),
        k.credential(
            "workspace",
            "google",
            "serviceaccount",
            serviceAccount={"keySecretRef": {"name": k.GOOGLE_SECRET, "key": "key.json"}},
            **delete,
        ),
    ]
    for cred, boxes in plan.mailboxes.items():
        objects.extend(k.grant(name, cred, email, **delete) for name, email in boxes)
    return objects


# --- the private world ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plane() -> Iterator[ControlPlane]:
    binaries = binaries_or_fail()
    # No controller-manager: nothing here needs it, and it would take CPU from the operator.
    with ControlPlane(binaries, controller_manager=False) as started:
        install_crds(started)
        started.kubectl("create", "namespace", NS)
        yield started


@pytest.fixture(scope="module")
def chaos_emulator() -> Iterator[RunningEmulator]:
    config = EmulatorConfig(
        # "Consent not applied yet" arrives in every documented provider_error shape, at random.
        behaviour=Behaviour(scope_cache_delay=EMULATOR_DELAY, provider_error_shape="random"),
        faults=FaultConfig(rates=dict(FAULT_RATES), latency_ms=LATENCY_MS, retry_after=1, seed=SEED),
        journal_size=1_000_000,
    )
    with run_emulator(config) as emu:
        yield emu


@pytest.fixture
def chaos_operator(plane: ControlPlane) -> Iterator[OperatorProcess]:
    workdir = Path(tempfile.mkdtemp(prefix="nylas-chaos-"))
    process = OperatorProcess([NS], list(OPERATOR_ARGS), workdir, str(plane.kubeconfig))
    yield process
    process.kill()
    if not os.environ.get("NYLAS_OPERATOR_KEEP_LOGS"):
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"operator logs kept in {workdir}")


# --- chaos ------------------------------------------------------------------------------------------


class Monkey(threading.Thread):
    """SIGKILLs and restarts the operator at seeded random moments; restarts the apiserver once."""

    def __init__(self, operator: OperatorProcess, plane: ControlPlane, seed: int, kills: int) -> None:
        super().__init__(name="chaos-monkey", daemon=True)
        rng = random.Random(seed)
        self.schedule = [(rng.uniform(6.0, 16.0), rng.uniform(0.2, 3.0)) for _ in range(kills)]
        self.apiserver_after = min(2, kills - 1)  # after this kill (0-based)
        self.operator = operator
        self.plane = plane
        self.kills = 0
        self.apiserver_restarts = 0
        self.error: BaseException | None = None
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            for index, (wait, downtime) in enumerate(self.schedule):
                if self.stopping.wait(wait):
                    return
                self.operator.kill()
                self.kills += 1
                time.sleep(downtime)
                if index == self.apiserver_after:
                    self.plane.restart_apiserver(downtime=2.0)
                    self.apiserver_restarts += 1
                # A loaded machine can take over a minute to list and resume everything.
                self.operator.start(wait=False)
                self.operator.wait_healthy(timeout=240)
        except BaseException as exc:  # reported by the test
            self.error = exc


def listing(plane: ControlPlane) -> dict[str, list[dict[str, Any]]] | None:
    """All objects of the three kinds, or None while the apiserver is away."""
    out = plane.kubectl(
        "get", "-n", NS, "nylasconnectors,nylascredentials,serviceaccountgrants", "-o", "json",
        check=False, timeout=60,
    )  # fmt: skip
    if not out.strip():
        return None
    kinds: dict[str, list[dict[str, Any]]] = {
        "NylasConnector": [],
        "NylasCredential": [],
        "ServiceAccountGrant": [],
    }
    for item in json.loads(out)["items"]:
        kinds[item["kind"]].append(item)
    return kinds


def is_ready(obj: dict[str, Any]) -> bool:
    cond = k.condition(obj, "Ready")
    return bool(cond and cond.get("status") == "True")


def phases(objs: list[dict[str, Any]]) -> Counter[str]:
    return Counter(str((o.get("status") or {}).get("phase")) for o in objs)


def give_consent_by_callback(plane: ControlPlane, deadline: float) -> float:
    """The admin opens contoso's consent URL; retried while the operator is being killed."""
    while time.monotonic() < deadline:
        cred = k.get(plane.kubectl, NS, "nylascredential", "contoso")
        status = (cred or {}).get("status") or {}
        records = status.get("consent") or []
        if records and records[0].get("grantedAt"):
            return time.time()
        url = status.get("consentUrl")
        if url:
            started = time.time()
            try:
                answer = httpx.get(url, follow_redirects=True, timeout=15)
                if answer.status_code == 200:
                    return started
            except httpx.HTTPError:
                pass  # the operator is down right now
        time.sleep(1.0)
    raise AssertionError("consent through the callback was not recorded in time")


def give_consent_by_annotation(plane: ControlPlane, emu: RunningEmulator, deadline: float) -> float:
    cred = k.eventually(
        lambda: (
            (c := k.get(plane.kubectl, NS, "nylascredential", "fabrikam"))
            and (c.get("status") or {}).get("credentialId")
            and c
        ),
        timeout=max(deadline - time.monotonic(), 1.0),
        what="fabrikam in Nylas",
    )
    emu.approve_consent(cred["status"]["credentialId"])
    started = time.time()
    while time.monotonic() < deadline:
        out = plane.kubectl(
            "annotate", "-n", NS, "nylascredential/fabrikam", "nylas-operator.io/admin-consent=granted",
            "--overwrite", check=False,
        )  # fmt: skip
        if out.strip():
            return started
        time.sleep(1.0)
    raise AssertionError("could not annotate fabrikam")


# --- the test ---------------------------------------------------------------------------------------


def test_chaos_run_converges_and_cleans_up(
    plane: ControlPlane, chaos_emulator: RunningEmulator, chaos_operator: OperatorProcess
) -> None:
    emu = chaos_emulator
    plan = make_plan(GRANTS)
    t0 = time.monotonic()
    docs = manifests(emu, plan)
    plane.kubectl("apply", "--server-side", "-n", NS, "-f", "-", input=yaml.safe_dump_all(docs), timeout=120)
    applied = time.monotonic()
    chaos_operator.start(wait=True)
    monkey = Monkey(chaos_operator, plane, SEED, KILLS)
    monkey.start()

    # Consent arrives once a good share of the Microsoft grants already wait for it.
    ms_total = len(plan.mailboxes["contoso"]) + len(plan.mailboxes["fabrikam"])
    deadline = time.monotonic() + CONVERGE_TIMEOUT

    def enough_waiting() -> Counter[str] | None:
        """Grant phases once a quarter of the Microsoft grants wait for consent."""
        grants = (listing(plane) or {}).get("ServiceAccountGrant", [])
        counts = phases(grants)
        return counts if counts["AwaitingConsent"] >= ms_total // 4 else None

    waiting_at_consent = k.eventually(
        enough_waiting, timeout=CONVERGE_TIMEOUT / 2, what="grants awaiting consent", interval=1.0
    )
    consent_times = {
        "contoso": give_consent_by_callback(plane, deadline),
        "fabrikam": give_consent_by_annotation(plane, emu, deadline),
    }

    total_objects = len(docs) - 3
    last: dict[str, list[dict[str, Any]]] | None = None
    while time.monotonic() < deadline:
        last = listing(plane) or last
        ready = sum(is_ready(o) for objs in (last or {}).values() for o in objs)
        if ready == total_objects and not monkey.is_alive():
            break
        time.sleep(2.0)
    converged = time.monotonic()
    monkey.stopping.set()
    monkey.join(120)
    assert monkey.error is None, f"the chaos monkey failed: {monkey.error!r}"[:6000]
    assert last is not None
    not_ready = [
        f"{o['kind']}/{o['metadata']['name']}: {(k.condition(o, 'Ready') or {}).get('reason')}"
        for objs in last.values()
        for o in objs
        if not is_ready(o)
    ]
    assert not not_ready, (
        f"{len(not_ready)} of {total_objects} objects not Ready after {CONVERGE_TIMEOUT:.0f}s: "
        f"{not_ready[:20]}\n"
        f"{chaos_operator.logs()[-6000:]}"
    )
    assert monkey.kills == KILLS and monkey.apiserver_restarts == 1

    # Nylas holds exactly what the objects describe.
    state = emu.state()
    cred_names = Counter(c["name"] for c in state["credentials"])
    assert cred_names == Counter(f"k8s:{NS}/{n}" for n in ("contoso", "fabrikam", "workspace")), cred_names
    grant_emails = Counter(g["email"] for g in state["grants"])
    wanted = plan.credential_of_email()
    assert set(grant_emails) == set(wanted) and set(grant_emails.values()) == {1}, "one grant per mailbox"
    assert len(state["connectors"]) == 2
    by_id = {g["metadata"]["name"]: g["status"]["grantId"] for g in last["ServiceAccountGrant"]}
    assert sorted(by_id.values()) == sorted(g["id"] for g in state["grants"])

    # No grant was even attempted before its eligible time; each mailbox was created once.
    journal = emu.journal()
    posts = [e for e in journal if e.method == "POST" and e.path == "/v3/connect/custom"]
    applied_posts = Counter(
        e.email for e in posts if (e.status and e.status < 300) or e.fault == "drop_after"
    )
    creds = {c["metadata"]["name"]: c for c in last["NylasCredential"]}
    early: list[str] = []
    for name in MS_CREDENTIALS:
        granted_at = k_time(creds[name]["status"]["consent"][0]["grantedAt"])
        eligible = max(granted_at, consent_times[name]) + OPERATOR_DELAY
        early += [
            f"{e.email} at {e.time:.1f} < {eligible:.1f}"
            for e in posts
            if wanted.get(e.email or "") == name and e.time < eligible
        ]
    assert not early, f"grants attempted before their eligible time: {early[:10]}"
    repeats = unexplained_repeats(posts)
    assert not repeats, f"mailboxes created more than once: {repeats}"

    # Delete everything; deletionPolicy Delete empties Nylas.
    plane.kubectl(
        "delete", "-n", NS, "serviceaccountgrants,nylascredentials,nylasconnectors", "--all", "--wait=false",
        timeout=120,
    )  # fmt: skip
    k.eventually(
        lambda: (kinds := listing(plane)) is not None and not any(kinds.values()),
        timeout=DELETE_TIMEOUT,
        what="every object deleted",
        interval=2.0,
    )
    deleted = time.monotonic()
    final = emu.state()
    assert final["grants"] == [] and final["credentials"] == [] and final["connectors"] == [], {
        kind: len(final[kind]) for kind in ("grants", "credentials", "connectors")
    }
    assert chaos_operator.running, "the operator died on its own"
    orphaned = chaos_operator.logs().count("orphaning the Nylas")
    assert orphaned == 0

    journal = emu.journal()
    by_status = Counter("dropped" if e.dropped else str(e.status) for e in journal)
    faults = Counter(e.fault for e in journal if e.fault)
    print(
        "\n=== chaos run ===\n"
        f"objects: {len(last['NylasConnector'])} connectors, {len(last['NylasCredential'])} credentials, "
        f"{len(last['ServiceAccountGrant'])} grants (seed {SEED})\n"
        f"phases when consent was given: {dict(waiting_at_consent)}\n"
        f"Nylas requests: {len(journal)} total, by status {dict(sorted(by_status.items()))}\n"
        f"faults injected: {sum(faults.values())} {dict(sorted(faults.items()))}\n"
        f"custom-auth POSTs: {len(posts)} ({sum(applied_posts.values())} applied)\n"
        f"operator SIGKILLs: {monkey.kills}, operator starts: {chaos_operator.starts}, "
        f"apiserver restarts: {monkey.apiserver_restarts}\n"
        f"apply: {applied - t0:.1f}s, converge (apply → all Ready): {converged - applied:.1f}s, "
        f"delete: {deleted - converged:.1f}s, total: {deleted - t0:.1f}s"
    )


def unexplained_repeats(posts: list[Any]) -> dict[str, list[str]]:
    """Mailboxes created twice, or sent again although the operator had seen the answer.

    ``POST /v3/connect/custom`` is idempotent per email (a repeat re-authenticates the same grant),
    so the client resends it after a lost answer (``drop_after``): that is the only repeat allowed.
    """
    by_email: dict[str, list[Any]] = {}
    for entry in sorted(posts, key=lambda e: e.seq):
        by_email.setdefault(entry.email or "", []).append(entry)
    bad: dict[str, list[str]] = {}
    for email, entries in by_email.items():
        seen_applied = answer_lost = False
        trace = [f"{e.status or '-'}/{e.fault or 'ok'}" for e in entries]
        if sum(e.status == 201 for e in entries) > 1:
            bad[email] = trace
        for entry in entries:
            applied = (entry.status is not None and entry.status < 300) or entry.fault == "drop_after"
            if not applied:
                continue
            if seen_applied and not answer_lost:
                bad[email] = trace
            seen_applied, answer_lost = True, entry.fault == "drop_after"
    return bad


def k_time(text: str) -> float:
    from nylas_operator.api.conditions import parse_rfc3339

    return parse_rfc3339(text).timestamp()
