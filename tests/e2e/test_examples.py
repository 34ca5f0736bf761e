"""Every example applies and works (pointed at this test's emulator); scenario 16 (output Secret)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from e2e import kube as k

pytestmark = pytest.mark.cluster

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_API_URL = "http://127.0.0.1:8787"


def load(example: str, emu: Any) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((EXAMPLES / example).glob("*.yaml")):
        text = (
            path.read_text()
            .replace(EXAMPLE_API_URL, emu.url)
            .replace("scopeCacheDelay: 5m", "scopeCacheDelay: 3s")
        )
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


def test_google_example(kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any) -> None:
    k.apply(kubectl, namespace, load("01-google-service-account", emulator))
    k.wait_all_ready(kubectl, namespace, "serviceaccountgrant")
    alice = k.get(kubectl, namespace, "serviceaccountgrant", "alice")
    out = k.get(kubectl, namespace, "secret", "alice-nylas-grant")
    assert alice is not None and out is not None
    data = {key: base64.b64decode(v).decode() for key, v in out["data"].items()}
    assert data == {
        "grant_id": alice["status"]["grantId"],
        "email": "alice@example.com",
        "provider": "google",
        "api_url": emulator.url,
    }
    (owner,) = out["metadata"]["ownerReferences"]
    assert owner["kind"] == "ServiceAccountGrant" and owner["uid"] == alice["metadata"]["uid"]
    assert emulator.api_key not in str(out) and "GOCSPX" not in str(out)


def test_microsoft_example(kubectl: k.Kubectl, namespace: str, emulator: Any, operator: Any) -> None:
    k.apply(kubectl, namespace, load("02-microsoft-admin-consent", emulator))
    cred = k.eventually(
        lambda: (
            (c := k.get(kubectl, namespace, "nylascredential", "contoso"))
            and c.get("status", {}).get("consentUrl")
            and c
        ),
        timeout=60,
        what="consent URL",
    )
    assert httpx.get(cred["status"]["consentUrl"], follow_redirects=True, timeout=10).status_code == 200
    k.wait_all_ready(kubectl, namespace, "serviceaccountgrant")
