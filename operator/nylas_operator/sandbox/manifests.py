"""The sandbox's copy of ``examples/``: loaded, pointed at the emulator, with fake Secrets.

Owns: finding the example manifests (one namespace per example directory), the in-memory
substitutions that make them run against the emulator, and the fake Secret values. It never edits the
files. Does not own: applying them (``command``) or anything about processes.

Substitutions are structural, not textual, so they hold whatever placeholder text an example uses:
- every object goes to its example's sandbox namespace;
- a NylasConnector talks to the emulator (``apiUrl``) with the emulator's application id;
- every Secret the objects reference gets a fake value of the right shape (the emulator's API key for
  ``apiKeySecretRef``, a Google-shaped JSON key for ``keySecretRef``, a dummy client secret otherwise),
  merged into the example's own Secret when it has one;
- an explicit ``scopeCacheDelay`` becomes the sandbox's settle delay, and a credential's own
  ``redirectUri`` is dropped so that consent comes back to the operator's callback.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nylas_operator.api.common import GROUP

NAMESPACE_PREFIX = "sandbox-"
FAKE_CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105 - a fake value, shown in docs
# The emulator checks the shape of a Google key, not its cryptography.
FAKE_GOOGLE_KEY: dict[str, str] = {
    "type": "service_account",
    "project_id": "sandbox-project",
    "private_key_id": "0123456789abcdef0123456789abcdef01234567",
    "private_key": "-----BEGIN PRIVATE KEY-----\nU2FuZGJveEZha2VLZXlOb3RSZWFs\n-----END PRIVATE KEY-----\n",
    "client_email": "sandbox@sandbox-project.iam.gserviceaccount.com",
    "client_id": "100000000000000000001",
    "token_uri": "https://oauth2.googleapis.com/token",
}
_OUR_API_VERSION = f"{GROUP}/"


class ExampleError(ValueError):
    """The examples cannot be loaded (no files, bad YAML)."""


@dataclass(frozen=True)
class Emulated:
    """What the substitutions point the examples at."""

    api_url: str
    application_id: str
    api_key: str = field(repr=False)
    settle_delay: str
    """A CRD duration such as ``30s``."""


@dataclass
class Example:
    """One example directory: its sandbox namespace and its objects (after substitution)."""

    name: str
    namespace: str
    objects: list[dict[str, Any]]

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o.get("kind") == kind]


def namespace_for(example_dir_name: str) -> str:
    """A valid namespace name (DNS label, <= 63 chars) for an example directory."""
    slug = re.sub(r"[^a-z0-9]+", "-", example_dir_name.lower()).strip("-") or "example"
    return (NAMESPACE_PREFIX + slug)[:63].rstrip("-")


def _manifest_files(directory: Path) -> list[Path]:
    files = [*directory.rglob("*.yaml"), *directory.rglob("*.yml")]
    # kustomization files are not objects; anything else that is not an object is skipped on load.
    return sorted(p for p in files if p.name not in ("kustomization.yaml", "kustomization.yml"))


def _load_objects(files: Iterable[Path]) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for path in files:
        try:
            docs = list(yaml.safe_load_all(path.read_text()))
        except (OSError, yaml.YAMLError) as exc:
            raise ExampleError(f"cannot read {path}: {exc}") from None
        for doc in docs:
            if isinstance(doc, dict) and doc.get("apiVersion") and doc.get("kind"):
                if doc["kind"] == "List":
                    objects.extend(i for i in doc.get("items", []) if isinstance(i, dict))
                else:
                    objects.append(doc)
    return objects


def load_examples(root: Path, emulated: Emulated) -> list[Example]:
    """Every example directory under ``root`` (sorted), substituted for the sandbox."""
    if not root.is_dir():
        raise ExampleError(f"no examples directory at {root}")
    examples: list[Example] = []
    for directory in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        objects = _load_objects(_manifest_files(directory))
        if any(o.get("apiVersion", "").startswith(_OUR_API_VERSION) for o in objects):
            namespace = namespace_for(directory.name)
            examples.append(Example(directory.name, namespace, substitute(objects, namespace, emulated)))
    if not examples:
        raise ExampleError(f"no example manifests of {GROUP} found under {root}")
    return examples


def substitute(objects: list[dict[str, Any]], namespace: str, emulated: Emulated) -> list[dict[str, Any]]:
    """The objects rewritten for the sandbox (see the module docstring); the input is not changed."""
    result: list[dict[str, Any]] = []
    wanted: dict[str, dict[str, str]] = {}  # Secret name -> key -> fake value
    for original in objects:
        obj = copy.deepcopy(original)
        kind = obj.get("kind")
        if kind == "Namespace":
            continue  # every object goes to the sandbox namespace
        obj.setdefault("metadata", {})["namespace"] = namespace
        spec = obj.get("spec")
        if isinstance(spec, dict) and obj.get("apiVersion", "").startswith(_OUR_API_VERSION):
            _rewrite_spec(str(kind), spec, emulated)
            for ref, value in _secret_refs(str(kind), spec, emulated):
                wanted.setdefault(ref["name"], {})[ref["key"]] = value
        result.append(obj)
    return _with_secrets(result, wanted, namespace)


def _rewrite_spec(kind: str, spec: dict[str, Any], emulated: Emulated) -> None:
    if kind == "NylasConnector":
        application = spec.setdefault("application", {})
        application["apiUrl"] = emulated.api_url
        application["clientId"] = emulated.application_id
        application.pop("region", None)  # irrelevant with apiUrl; keeps the example's intent simple
    if kind in ("NylasCredential", "ServiceAccountGrant") and "scopeCacheDelay" in spec:
        spec["scopeCacheDelay"] = emulated.settle_delay
    if kind == "NylasCredential" and isinstance(spec.get("adminConsent"), dict):
        spec["adminConsent"].pop("redirectUri", None)


def _secret_refs(kind: str, spec: dict[str, Any], emulated: Emulated) -> list[tuple[dict[str, str], str]]:
    """(secret reference, fake value) for every Secret the spec references."""
    google_key = json.dumps(FAKE_GOOGLE_KEY, indent=2)
    candidates: list[tuple[Any, str]] = []
    if kind == "NylasConnector":
        candidates.append((_dig(spec, "application", "apiKeySecretRef"), emulated.api_key))
        candidates.append((_dig(spec, "providerApp", "clientSecretRef"), FAKE_CLIENT_SECRET))
    elif kind == "NylasCredential":
        candidates.append((_dig(spec, "adminConsent", "clientSecretRef"), FAKE_CLIENT_SECRET))
        candidates.append((_dig(spec, "serviceAccount", "keySecretRef"), google_key))
    return [
        (ref, value)
        for ref, value in candidates
        if isinstance(ref, dict) and isinstance(ref.get("name"), str) and isinstance(ref.get("key"), str)
    ]


def _dig(data: dict[str, Any], *path: str) -> Any:
    current: Any = data
    for key in path:
        if not isinstance(current, dict):
            return None
        current = current.get(key)
    return current


def _with_secrets(
    objects: list[dict[str, Any]], wanted: dict[str, dict[str, str]], namespace: str
) -> list[dict[str, Any]]:
    """Fill the referenced keys of the example's Secrets with fakes; add the Secrets it lacks, first."""
    for obj in objects:
        name = obj.get("metadata", {}).get("name")
        if obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1" and name in wanted:
            fakes = wanted.pop(name)
            data = obj.get("data") or {}
            for key in fakes:
                data.pop(key, None)
            if data:
                obj["data"] = data
            else:
                obj.pop("data", None)
            obj["stringData"] = {**(obj.get("stringData") or {}), **fakes}
    added = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {"app.kubernetes.io/part-of": "sandbox"},
            },
            "type": "Opaque",
            "stringData": dict(fakes),
        }
        for name, fakes in sorted(wanted.items())
    ]
    # Secrets first, so the operator finds them on its first pass.
    secrets = [o for o in objects if o.get("kind") == "Secret"]
    return [*added, *secrets, *(o for o in objects if o.get("kind") != "Secret")]


def to_yaml(objects: Iterable[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(list(objects), sort_keys=False)
