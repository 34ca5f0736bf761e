"""CRD generation: the committed YAML is current, and the schemas are structural and complete."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from pydantic import BaseModel, ConfigDict, Field

from nylas_operator.api.common import CamelModel
from nylas_operator.api.crds import (
    KINDS,
    SchemaError,
    build_crds,
    crds_command,
    expected_files,
    structural_schema,
)

CRDS_DIR = Path(__file__).resolve().parents[3] / "crds"


def test_committed_crds_match_the_models() -> None:
    stale = []
    for name, text in expected_files().items():
        path = CRDS_DIR / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    extra = sorted(p.name for p in CRDS_DIR.glob("*.yaml") if p.name not in expected_files())
    assert not stale, f"crds/{', '.join(stale)} differ from the models: run `make crds` and commit the result"
    assert not extra, f"crds/ has files no model generates: {extra}"


def test_rendering_is_deterministic() -> None:
    assert expected_files() == expected_files()


# --- structural schema rules -----------------------------------------------------------------------


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if "type" in node:
            yield path, node
        for key, value in node.get("properties", {}).items():
            yield from _walk(value, f"{path}.{key}")
        if "items" in node:
            yield from _walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            yield from _walk(node["additionalProperties"], f"{path}{{}}")


def _schemas() -> list[tuple[str, dict[str, Any]]]:
    return [
        (crd["spec"]["names"]["kind"], crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
        for crd in build_crds()
    ]


@pytest.mark.parametrize(("kind", "schema"), _schemas(), ids=[k.kind for k in KINDS])
def test_schema_is_structural(kind: str, schema: dict[str, Any]) -> None:
    text = yaml.safe_dump(schema)
    for forbidden in ("$ref", "$defs", "anyOf", "title:", "nullable", "additionalProperties: false"):
        assert forbidden not in text, f"{kind}: {forbidden} left in the schema"
    for path, node in _walk(schema):
        assert node["type"] in {"object", "array", "string", "integer", "number", "boolean"}, path
        assert node.get("default", "") is not None, f"{kind}{path}: default null"
        assert not ("properties" in node and "additionalProperties" in node), path


@pytest.mark.parametrize(("kind", "schema"), _schemas(), ids=[k.kind for k in KINDS])
def test_every_field_is_described(kind: str, schema: dict[str, Any]) -> None:
    for path, node in _walk(schema):
        if path in {"", ".metadata"} or path.endswith(("[]", "{}")):
            continue  # the metadata schema may not carry a description; list items are described by the list
        assert node.get("description"), f"{kind}{path} has no description (kubectl explain shows nothing)"


@pytest.mark.parametrize(("kind", "schema"), _schemas(), ids=[k.kind for k in KINDS])
def test_spec_strings_and_lists_are_bounded(kind: str, schema: dict[str, Any]) -> None:
    # CEL cost estimation needs bounds; unbounded input is also a cheap way to bloat etcd.
    for path, node in _walk(schema["properties"]["spec"], ".spec"):
        if node["type"] == "string":
            assert "maxLength" in node or "enum" in node, f"{kind}{path} has no maxLength"
        if node["type"] == "array":
            assert "maxItems" in node, f"{kind}{path} has no maxItems"


def test_status_conditions_are_a_map_keyed_by_type() -> None:
    for _, schema in _schemas():
        conditions = schema["properties"]["status"]["properties"]["conditions"]
        assert conditions["x-kubernetes-list-type"] == "map"
        assert conditions["x-kubernetes-list-map-keys"] == ["type"]
        assert "type" in conditions["items"]["required"]


def test_status_has_no_defaults_and_maps_string_dicts() -> None:
    kinds = dict(_schemas())
    status = kinds["NylasConnector"]["properties"]["status"]
    assert status["properties"]["secretVersions"] == {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": status["properties"]["secretVersions"]["description"],
    }
    for _, schema in _schemas():
        assert "default:" not in yaml.safe_dump(schema["properties"]["status"])


def test_spec_keeps_real_defaults_and_required_fields() -> None:
    kinds = dict(_schemas())
    spec = kinds["NylasConnector"]["properties"]["spec"]
    assert spec["properties"]["application"]["properties"]["region"]["default"] == "us"
    assert spec["properties"]["deletionPolicy"] == {
        "type": "string",
        "enum": ["Orphan", "Delete"],
        "default": "Orphan",
        "description": spec["properties"]["deletionPolicy"]["description"],
    }
    assert sorted(spec["required"]) == ["application", "provider", "providerApp"]
    grant = kinds["ServiceAccountGrant"]
    assert grant["required"] == ["spec"]
    assert sorted(grant["properties"]["spec"]["required"]) == ["credentialRef", "email"]


def test_crd_names_and_columns() -> None:
    by_kind = {crd["spec"]["names"]["kind"]: crd for crd in build_crds()}
    assert set(by_kind) == {"NylasConnector", "NylasCredential", "ServiceAccountGrant"}
    short = [s for crd in by_kind.values() for s in crd["spec"]["names"]["shortNames"]]
    assert len(short) == len(set(short))
    for crd in by_kind.values():
        assert crd["spec"]["group"] == "nylas-operator.io"
        assert crd["spec"]["scope"] == "Namespaced"
        assert crd["spec"]["names"]["categories"] == ["nylas"]
        (version,) = crd["spec"]["versions"]
        assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
        assert version["subresources"] == {"status": {}}
        names = [c["name"] for c in version["additionalPrinterColumns"]]
        assert names[-1] == "Age" and "Ready" in names
    grant_columns = {
        c["name"]: c
        for c in by_kind["ServiceAccountGrant"]["spec"]["versions"][0]["additionalPrinterColumns"]
    }
    assert grant_columns["Grant"]["jsonPath"] == ".status.grantId"
    assert "Consent-URL" not in grant_columns  # the URL stays on the credential (docs/security.md)
    assert (
        "consentUrl"
        not in by_kind["ServiceAccountGrant"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"][
            "properties"
        ]["status"]["properties"]
    )
    assert "priority" not in grant_columns["Eligible"]


# --- the converter on small models -----------------------------------------------------------------


class _Inner(CamelModel):
    """Inner doc."""

    model_config = ConfigDict(json_schema_extra={"additionalProperties": False})

    some_value: str = Field(max_length=5, description="A value.")


class _Outer(BaseModel):
    """Outer doc."""

    inner: _Inner | None = Field(default=None, description="Field doc wins over the class doc.")
    items: list[_Inner] = Field(description="Listed.")
    labels: dict[str, str] | None = Field(default=None, description="Labels.")
    count: int = Field(default=3, description="A count.")


def test_converter_inlines_refs_and_unwraps_optionals() -> None:
    schema = structural_schema(_Outer.model_json_schema(by_alias=True))
    inner = schema["properties"]["inner"]
    assert inner == {
        "type": "object",
        "description": "Field doc wins over the class doc.",
        "properties": {"someValue": {"type": "string", "maxLength": 5, "description": "A value."}},
        "required": ["someValue"],
    }
    assert schema["properties"]["items"]["items"]["description"] == "Inner doc."
    assert schema["properties"]["labels"]["additionalProperties"] == {"type": "string"}
    assert schema["properties"]["count"]["default"] == 3
    assert schema["required"] == ["items"]
    assert (
        "default"
        not in structural_schema(_Outer.model_json_schema(), keep_defaults=False)["properties"]["count"]
    )


def test_converter_merges_validations_of_field_and_model() -> None:
    raw = {
        "$defs": {"M": {"type": "object", "properties": {}, "x-kubernetes-validations": [{"rule": "a"}]}},
        "type": "object",
        "properties": {"m": {"$ref": "#/$defs/M", "x-kubernetes-validations": [{"rule": "b"}]}},
    }
    assert [r["rule"] for r in structural_schema(raw)["properties"]["m"]["x-kubernetes-validations"]] == [
        "a",
        "b",
    ]


def test_converter_rejects_what_cannot_be_structural() -> None:
    with pytest.raises(SchemaError, match="non-null options"):
        structural_schema({"anyOf": [{"type": "string"}, {"type": "integer"}]})
    with pytest.raises(SchemaError, match="recursive"):
        structural_schema(
            {
                "$defs": {"N": {"type": "object", "properties": {"n": {"$ref": "#/$defs/N"}}}},
                "$ref": "#/$defs/N",
            }
        )
    with pytest.raises(SchemaError, match="without a type"):
        structural_schema({"description": "anything"})


def test_const_becomes_a_string_enum() -> None:
    assert structural_schema({"const": "x"}) == {"enum": ["x"], "type": "string"}


# --- the command -----------------------------------------------------------------------------------


def test_crds_command_prints_one_stream() -> None:
    result = CliRunner().invoke(crds_command, [])
    assert result.exit_code == 0, result.output
    docs = list(yaml.safe_load_all(result.output))
    assert [d["metadata"]["name"] for d in docs] == [
        "nylasconnectors.nylas-operator.io",
        "nylascredentials.nylas-operator.io",
        "serviceaccountgrants.nylas-operator.io",
    ]


def test_crds_command_writes_one_file_per_kind(tmp_path: Path) -> None:
    result = CliRunner().invoke(crds_command, ["--output-dir", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert {p.name: p.read_text() for p in (tmp_path / "out").iterdir()} == expected_files()
