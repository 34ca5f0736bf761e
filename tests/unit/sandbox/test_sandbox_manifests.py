"""The sandbox's substitutions: examples are pointed at the emulator and get fake Secrets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from nylas_operator.sandbox import manifests
from nylas_operator.sandbox.manifests import Emulated, ExampleError, load_examples, namespace_for, substitute

EMU = Emulated(
    api_url="http://127.0.0.1:4321", application_id="emu-app", api_key="nyk_fake", settle_delay="3s"
)
API = "nylas-operator.io/v1alpha1"


def connector(**application: Any) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "NylasConnector",
        "metadata": {"name": "microsoft", "namespace": "elsewhere"},
        "spec": {
            "provider": "microsoft",
            "application": {
                "apiKeySecretRef": {"name": "nylas", "key": "api-key"},
                "clientId": "<your-nylas-application-id>",
                "region": "eu",
                **application,
            },
            "providerApp": {"clientId": "azure-app", "clientSecretRef": {"name": "azure", "key": "secret"}},
        },
    }


def credential(kind: str = "adminconsent", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"connectorRef": {"name": "microsoft"}, "type": kind, **spec}
    return {"apiVersion": API, "kind": "NylasCredential", "metadata": {"name": "contoso"}, "spec": body}


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def test_connector_points_at_the_emulator_in_the_sandbox_namespace() -> None:
    out = substitute([connector()], "sandbox-x", EMU)
    (conn,) = by_kind(out, "NylasConnector")
    assert conn["metadata"]["namespace"] == "sandbox-x"
    app = conn["spec"]["application"]
    assert app["apiUrl"] == "http://127.0.0.1:4321"
    assert app["clientId"] == "emu-app"
    assert "region" not in app


def test_referenced_secrets_are_created_with_fake_values_before_the_objects() -> None:
    out = substitute(
        [
            connector(),
            credential(
                "serviceaccount", serviceAccount={"keySecretRef": {"name": "gkey", "key": "key.json"}}
            ),
        ],
        "ns",
        EMU,
    )
    kinds = [o["kind"] for o in out]
    assert kinds[:3] == ["Secret", "Secret", "Secret"]
    secrets = {s["metadata"]["name"]: s for s in by_kind(out, "Secret")}
    assert secrets["nylas"]["stringData"] == {"api-key": "nyk_fake"}
    assert secrets["azure"]["stringData"] == {"secret": manifests.FAKE_CLIENT_SECRET}
    key = json.loads(secrets["gkey"]["stringData"]["key.json"])
    assert {"private_key_id", "private_key", "client_email"} <= key.keys()
    assert all(s["metadata"]["namespace"] == "ns" for s in secrets.values())


def test_an_example_secret_keeps_its_other_keys_and_gets_the_fake_value() -> None:
    example_secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "nylas"},
        "data": {"api-key": "UkVQTEFDRS1NRQ==", "note": "aGk="},
        "stringData": {"other": "x"},
    }
    out = substitute([connector(), example_secret], "ns", EMU)
    (secret,) = [s for s in by_kind(out, "Secret") if s["metadata"]["name"] == "nylas"]
    assert secret["data"] == {"note": "aGk="}
    assert secret["stringData"] == {"other": "x", "api-key": "nyk_fake"}
    assert example_secret["data"]["api-key"] == "UkVQTEFDRS1NRQ==", "the input must not be changed"


def test_explicit_delays_become_the_settle_delay_and_own_redirect_uris_are_dropped() -> None:
    cred = credential(
        adminConsent={"tenant": "contoso.onmicrosoft.com", "redirectUri": "https://example.com/cb"},
        scopeCacheDelay="5m",
    )
    grant = {
        "apiVersion": API,
        "kind": "ServiceAccountGrant",
        "metadata": {"name": "g"},
        "spec": {"credentialRef": {"name": "contoso"}, "email": "a@b.c", "scopeCacheDelay": "10m"},
    }
    plain = {
        "apiVersion": API,
        "kind": "ServiceAccountGrant",
        "metadata": {"name": "h"},
        "spec": {"credentialRef": {"name": "contoso"}, "email": "d@b.c"},
    }
    out = substitute([cred, grant, plain], "ns", EMU)
    (c,) = by_kind(out, "NylasCredential")
    assert c["spec"]["scopeCacheDelay"] == "3s"
    assert c["spec"]["adminConsent"] == {"tenant": "contoso.onmicrosoft.com"}
    g, h = by_kind(out, "ServiceAccountGrant")
    assert g["spec"]["scopeCacheDelay"] == "3s"
    assert "scopeCacheDelay" not in h["spec"], "the operator's default (the settle delay) applies"


def test_namespace_objects_are_dropped() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "nylas-examples"}}
    assert by_kind(substitute([ns, connector()], "ns", EMU), "Namespace") == []


@pytest.mark.parametrize(
    ("directory", "expected"),
    [
        ("01-google-service-account", "sandbox-01-google-service-account"),
        ("Weird_Name!!", "sandbox-weird-name"),
        ("x" * 80, "sandbox-" + "x" * 55),
    ],
)
def test_namespace_names_are_valid_dns_labels(directory: str, expected: str) -> None:
    assert namespace_for(directory) == expected
    assert len(namespace_for(directory)) <= 63


def test_load_examples_reads_each_directory_into_its_own_namespace(tmp_path: Path) -> None:
    (tmp_path / "02-b").mkdir()
    (tmp_path / "01-a" / "sub").mkdir(parents=True)
    (tmp_path / "01-a" / "sub" / "connector.yaml").write_text(yaml.safe_dump(connector()))
    (tmp_path / "01-a" / "kustomization.yaml").write_text("resources: [sub/connector.yaml]\n")
    (tmp_path / "01-a" / "README.md").write_text("# not a manifest\n")
    (tmp_path / "02-b" / "all.yml").write_text(yaml.safe_dump_all([credential(), {"not": "an object"}]))
    (tmp_path / "03-no-objects-of-ours").mkdir()
    (tmp_path / "03-no-objects-of-ours" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
    )
    examples = load_examples(tmp_path, EMU)
    assert [(e.name, e.namespace) for e in examples] == [("01-a", "sandbox-01-a"), ("02-b", "sandbox-02-b")]
    assert [o["kind"] for o in examples[0].objects] == ["Secret", "Secret", "NylasConnector"]
    assert [o["kind"] for o in examples[1].objects] == ["NylasCredential"]


def test_load_examples_fails_clearly_without_examples(tmp_path: Path) -> None:
    with pytest.raises(ExampleError, match="no examples directory"):
        load_examples(tmp_path / "missing", EMU)
    with pytest.raises(ExampleError, match="no example manifests"):
        load_examples(tmp_path, EMU)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.yaml").write_text("a: [unclosed\n")
    with pytest.raises(ExampleError, match="cannot read"):
        load_examples(tmp_path, EMU)


def test_the_api_key_is_not_in_the_repr_of_the_emulated_settings() -> None:
    assert "nyk_fake" not in repr(EMU)
