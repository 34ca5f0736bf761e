"""`kubectl nylas` with the real operator and the emulator: the tree of a waiting Microsoft setup,
`approve` through the annotation path (the operator records the consent), `wait` until every grant
is Ready, and the kstatus verdict of the live objects along the way.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from e2e import kube as k
from e2e.test_microsoft import MAILBOXES, consent_url_on_credential, microsoft_objects
from harness import gotools

pytestmark = pytest.mark.cluster

PLUGIN = Path(sys.executable).with_name("kubectl-nylas")
SETTLE = 15


def plugin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PLUGIN), *args], capture_output=True, text=True, timeout=120, check=False)


def test_status_approve_and_wait_with_the_operator(
    kubectl: k.Kubectl, namespace: str, emulator: Any, operator_factory: Any
) -> None:
    # A settle wait long enough for `wait` to see it, however loaded the machine.
    operator_factory(namespace, scope_cache_delay=f"{SETTLE}s")
    k.apply(kubectl, namespace, microsoft_objects(emulator))
    url = consent_url_on_credential(kubectl, namespace)

    tree = plugin("status", "-n", namespace)
    assert tree.returncode == 0, tree.stderr
    lines = tree.stdout.splitlines()
    assert lines[0].split()[:2] == ["NylasConnector/microsoft", "Ready"]
    assert lines[1].split()[1:3] == ["NylasCredential/contoso", "AwaitingConsent"]
    assert f"kubectl nylas consent-url contoso -n {namespace}" in tree.stdout
    assert sum("ServiceAccountGrant/mailbox-" in line for line in lines) == len(MAILBOXES)
    assert url not in tree.stdout  # the state-bearing URL only comes from consent-url

    shown = plugin("consent-url", "contoso", "-n", namespace)
    assert (shown.returncode, shown.stdout) == (0, url + "\n")

    # Waiting on consent is Stalled for kstatus (Flux fails its health check with the reason).
    cred = k.get(kubectl, namespace, "nylascredential", "contoso")
    assert cred is not None
    assert gotools.kstatus([cred])[0]["status"] == "Failed"

    # Consent given out of band (the emulator records it), then approved through the plugin.
    emulator.approve_consent(cred["status"]["credentialId"])
    approved = plugin("approve", "contoso", "-n", namespace)
    assert approved.returncode == 0, approved.stderr

    waited = plugin("wait", "--credential", "contoso", "-n", namespace, "--timeout", "120s")
    assert waited.returncode == 0, waited.stderr
    progress = waited.stderr.splitlines()
    assert progress[-1] == f"{len(MAILBOXES)}/{len(MAILBOXES)} Ready"
    settling = [line for line in progress if "ConsentSettling" in line]
    assert settling, progress
    assert "(next grant eligible at " in settling[0]

    # `wait` follows the grants; the credential reports its own end of the settle wait on its
    # own wake-up, a moment after the grants may have been created.
    k.wait_condition(kubectl, namespace, "nylascredential", "contoso", "Ready", "True", timeout=60)
    done = plugin("status", "-n", namespace)
    assert "→" not in done.stdout  # nothing left to do anywhere
    bodies = [k.get(kubectl, namespace, "serviceaccountgrant", f"mailbox-{i}") for i in range(len(MAILBOXES))]
    assert {v["status"] for v in gotools.kstatus([b for b in bodies if b])} == {"Current"}
    record = (k.get(kubectl, namespace, "nylascredential", "contoso") or {})["status"]["consent"][0]
    assert record["grantedBy"] == "annotation"
