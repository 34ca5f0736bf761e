"""CustomResourceDefinitions of the three kinds, generated from the pydantic models.

Owns: turning a pydantic JSON schema into a Kubernetes *structural* schema (`structural_schema`),
the CRD of each kind (names, short names, category, printer columns, status subresource), the
deterministic YAML rendering, and the `nylas-operator crds` / `python -m nylas_operator.api.crds`
commands. Does not own: the fields, descriptions and CEL rules themselves (the models in this
package), nor installing CRDs into a cluster (the chart, the dev cluster and the test fixtures).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import yaml
from pydantic import BaseModel

from nylas_operator.api.common import GROUP, VERSION
from nylas_operator.api.connector import NylasConnectorSpec, NylasConnectorStatus
from nylas_operator.api.credential import NylasCredentialSpec, NylasCredentialStatus
from nylas_operator.api.grant import ServiceAccountGrantSpec, ServiceAccountGrantStatus

CATEGORY = "nylas"

_READY = '.status.conditions[?(@.type=="Ready")].status'
_REASON = '.status.conditions[?(@.type=="Ready")].reason'


def _column(
    name: str, path: str, description: str, *, type_: str = "string", priority: int = 0
) -> dict[str, Any]:
    col: dict[str, Any] = {"name": name, "type": type_, "jsonPath": path, "description": description}
    if priority:
        col["priority"] = priority
    return col


_AGE = _column("Age", ".metadata.creationTimestamp", "Time since the object was created.", type_="date")
_READY_COL = _column("Ready", _READY, "Status of the Ready condition.")
_PHASE_COL = _column("Phase", ".status.phase", "Where the object is in its lifecycle.")
_REASON_COL = _column("Reason", _REASON, "Reason of the Ready condition.", priority=1)


@dataclass(frozen=True)
class KindInfo:
    """Everything that makes one kind's CRD besides its schema."""

    kind: str
    plural: str
    short_names: tuple[str, ...]
    spec: type[BaseModel]
    status: type[BaseModel]
    description: str
    columns: tuple[dict[str, Any], ...] = field(default=())

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"

    @property
    def file_name(self) -> str:
        return f"{GROUP}_{self.plural}.yaml"


KINDS: tuple[KindInfo, ...] = (
    KindInfo(
        kind="NylasConnector",
        plural="nylasconnectors",
        short_names=("nyc", "nyconn"),
        spec=NylasConnectorSpec,
        status=NylasConnectorStatus,
        description="NylasConnector registers one provider app (Google or Microsoft) on one Nylas "
        "application. Nylas allows one connector per provider per application.",
        columns=(
            _column("Provider", ".spec.provider", "google or microsoft."),
            _column("Region", ".spec.application.region", "Nylas data region."),
            _READY_COL,
            _PHASE_COL,
            _REASON_COL,
            _column(
                "Users",
                ".status.users",
                "NylasCredentials using this connector.",
                type_="integer",
                priority=1,
            ),
            _AGE,
        ),
    ),
    KindInfo(
        kind="NylasCredential",
        plural="nylascredentials",
        short_names=("nycred",),
        spec=NylasCredentialSpec,
        status=NylasCredentialStatus,
        description="NylasCredential is a connector credential: Microsoft admin consent for one tenant, "
        "or a Google service account. The tenant's admin consent is recorded in its status.",
        columns=(
            _column("Connector", ".spec.connectorRef.name", "The NylasConnector of this credential."),
            _column("Type", ".spec.type", "adminconsent or serviceaccount."),
            _READY_COL,
            _PHASE_COL,
            _column(
                "Settled", ".status.settledAt", "When admin consent has settled (grants may be created)."
            ),
            _REASON_COL,
            _column("Credential", ".status.credentialId", "The credential's id in Nylas.", priority=1),
            _column(
                "Consent-URL", ".status.consentUrl", "The URL an administrator opens to consent.", priority=1
            ),
            _AGE,
        ),
    ),
    KindInfo(
        kind="ServiceAccountGrant",
        plural="serviceaccountgrants",
        short_names=("sag", "nygrant"),
        spec=ServiceAccountGrantSpec,
        status=ServiceAccountGrantStatus,
        description="ServiceAccountGrant is one mailbox's Nylas grant, created through the bulk "
        "authentication of a NylasCredential (no user sign-in).",
        columns=(
            _column("Email", ".spec.email", "The mailbox address."),
            _READY_COL,
            _PHASE_COL,
            _column("Grant", ".status.grantId", "The grant's id in Nylas."),
            _column(
                "Eligible", ".status.eligibleAt", "Microsoft: the grant is created no earlier than this."
            ),
            _REASON_COL,
            _column("Credential", ".spec.credentialRef.name", "The NylasCredential used.", priority=1),
            _AGE,
        ),
    ),
)

# Keys of a pydantic schema that have no place in a CRD schema.
_DROPPED_KEYS = frozenset({"title", "$defs", "examples"})


class SchemaError(ValueError):
    """The models produced a schema that cannot be made structural."""


def structural_schema(schema: Mapping[str, Any], *, keep_defaults: bool = True) -> dict[str, Any]:
    """Convert a pydantic JSON schema (with `$defs`) to a Kubernetes structural schema.

    `$ref` is inlined, `anyOf [X, null]` becomes X (optional means "not in required"), titles and
    `default: null` go, and `additionalProperties: false` goes too (structural schemas prune
    unknown fields, and the apiserver forbids `false`). With `keep_defaults=False` every default
    is dropped (used for status, which only the operator writes).
    """
    defs: Mapping[str, Any] = schema.get("$defs", {})
    return _convert(schema, defs, keep_defaults, ())


def _resolve(
    node: Mapping[str, Any], defs: Mapping[str, Any], seen: tuple[str, ...]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Inline `$ref` and unwrap `anyOf [X, null]`; sibling keys override the target's."""
    node = dict(node)
    ref = node.pop("$ref", None)
    if ref is not None:
        name = str(ref).rsplit("/", 1)[-1]
        if name in seen:
            raise SchemaError(f"recursive model {name} cannot be a structural schema")
        target, seen = _resolve(defs[name], defs, (*seen, name))
        node = _merge(target, node)
    any_of = node.pop("anyOf", None)
    if any_of is not None:
        options = [o for o in any_of if o.get("type") != "null"]
        if len(options) != 1:
            raise SchemaError(f"anyOf with {len(options)} non-null options is not structural: {any_of}")
        target, seen = _resolve(options[0], defs, seen)
        node = _merge(target, node)
    return node, seen


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**base, **override}
    rules = [*base.get("x-kubernetes-validations", ()), *override.get("x-kubernetes-validations", ())]
    if rules:
        merged["x-kubernetes-validations"] = rules
    return merged


def _convert(
    node: Mapping[str, Any], defs: Mapping[str, Any], keep_defaults: bool, seen: tuple[str, ...]
) -> dict[str, Any]:
    resolved, seen = _resolve(node, defs, seen)
    out: dict[str, Any] = {}
    for key, value in resolved.items():
        if key in _DROPPED_KEYS:
            continue
        if key == "default" and (value is None or not keep_defaults):
            continue
        if key == "const":
            out["enum"] = [value]
            continue
        if key == "properties":
            out[key] = {name: _convert(sub, defs, keep_defaults, seen) for name, sub in value.items()}
        elif key == "items":
            out[key] = _convert(value, defs, keep_defaults, seen)
        elif key == "additionalProperties":
            if isinstance(value, Mapping):
                out[key] = _convert(value, defs, keep_defaults, seen)
            elif value is True:
                out["x-kubernetes-preserve-unknown-fields"] = True
            # False: dropped, pruning already rejects (strict) or drops unknown fields.
        else:
            out[key] = copy.deepcopy(value)
    if "type" not in out:
        if "enum" in out and all(isinstance(v, str) for v in out["enum"]):
            out["type"] = "string"
        elif "properties" in out:
            out["type"] = "object"
        else:
            raise SchemaError(f"schema without a type is not structural: {resolved}")
    if "required" in out and not out["required"]:
        del out["required"]
    return out


def _status_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = structural_schema(
        model.model_json_schema(by_alias=True, mode="serialization"), keep_defaults=False
    )
    props = schema["properties"]
    # Conditions are merged by type (kubectl, SSA and `kubectl wait` rely on it).
    props["conditions"]["x-kubernetes-list-type"] = "map"
    props["conditions"]["x-kubernetes-list-map-keys"] = ["type"]
    if "consent" in props:
        props["consent"]["x-kubernetes-list-type"] = "map"
        props["consent"]["x-kubernetes-list-map-keys"] = ["scopeSet"]
    return schema


def _spec_schema(model: type[BaseModel]) -> dict[str, Any]:
    return structural_schema(model.model_json_schema(by_alias=True, mode="validation"))


def build_crd(info: KindInfo) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind, as a plain dict."""
    root = {
        "type": "object",
        "description": info.description,
        "required": ["spec"],
        "properties": {
            "apiVersion": {
                "type": "string",
                "description": f"Versioned schema of this object; always {GROUP}/{VERSION} here.",
            },
            "kind": {"type": "string", "description": f"The kind of this object: {info.kind}."},
            "metadata": {"type": "object"},
            "spec": _spec_schema(info.spec),
            "status": _status_schema(info.status),
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": info.crd_name},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": info.kind,
                "listKind": f"{info.kind}List",
                "plural": info.plural,
                "singular": info.singular,
                "shortNames": list(info.short_names),
                "categories": [CATEGORY],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [dict(c) for c in info.columns],
                    "schema": {"openAPIV3Schema": root},
                }
            ],
        },
    }


def build_crds() -> list[dict[str, Any]]:
    return [build_crd(info) for info in KINDS]


def render(crd: Mapping[str, Any]) -> str:
    """One CRD as YAML; keys sorted so the committed files diff cleanly."""
    return yaml.safe_dump(dict(crd), sort_keys=True, width=100, allow_unicode=True, default_flow_style=False)


def render_all(crds: Iterable[Mapping[str, Any]] | None = None) -> str:
    """All CRDs as one multi-document YAML stream."""
    return "".join(f"---\n{render(crd)}" for crd in (crds if crds is not None else build_crds()))


def expected_files() -> dict[str, str]:
    """File name -> content of every CRD file under `crds/`."""
    return {info.file_name: render(build_crd(info)) for info in KINDS}


def write_crds(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in expected_files().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


@click.command("crds")
@click.option(
    "--output-dir",
    "--write",
    "output_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write one file per kind into this directory instead of printing one YAML stream.",
)
def crds_command(output_dir: Path | None) -> None:
    """Print the CustomResourceDefinitions as YAML."""
    if output_dir is None:
        click.echo(render_all(), nl=False)
        return
    for path in write_crds(output_dir):
        click.echo(f"wrote {path}")


if __name__ == "__main__":  # pragma: no cover
    crds_command()
