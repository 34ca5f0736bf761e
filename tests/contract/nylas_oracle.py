"""Nylas's published OpenAPI contract as a test oracle: requests and responses checked against it.

The fixture next to this file is the used part of the contract, extracted by ``extract.py``. Checks
go through ``openapi-core`` (security, path, parameters, status, response bodies). Two things the
contract cannot check on its own are done here, and are stricter than the contract:

- Query parameters the operation does not declare are refused (openapi-core ignores them; Nylas
  may ignore or refuse them, and ignoring a misspelt filter silently lists the wrong objects).
- Request bodies of ``POST /v3/connectors``, ``/v3/connectors/{provider}/creds`` and
  ``/v3/connect/custom`` are a ``oneOf`` of titled variants that are not mutually exclusive (no
  discriminator; ``provider`` has no enum in the connector variants), so every correct body matches
  several variants and fails ``oneOf``. The body is checked against the variant the contract titles
  for it (Microsoft, Google, Admin Consent, Service Account, Microsoft/Google bulk auth) instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

FIXTURE = Path(__file__).with_name("nylas-openapi-v3.subset.yaml")
SERVER = "https://api.us.nylas.com"


@cache
def contract() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(FIXTURE.read_text())
    return loaded


@cache
def _openapi() -> OpenAPI:
    return OpenAPI.from_dict(contract())


def _branch_of_custom(body: Mapping[str, Any]) -> str:
    return {"google": "Google bulk auth", "microsoft": "Microsoft bulk auth"}[body["provider"]]


def _branch_of_connector(body: Mapping[str, Any]) -> str:
    return {"google": "Google", "microsoft": "Microsoft"}[body["provider"]]


def _branch_of_credential(body: Mapping[str, Any]) -> str:
    return {
        "adminconsent": "Admin Consent",
        "serviceaccount": "Service Account",
        "connector": "Connector Override",
    }[body["credential_type"]]


# (method, path template) -> which titled oneOf variant a body must match.
_VARIANTS: dict[tuple[str, str], Callable[[Mapping[str, Any]], str]] = {
    ("post", "/v3/connect/custom"): _branch_of_custom,
    ("post", "/v3/connectors"): _branch_of_connector,
    ("post", "/v3/connectors/{provider}/creds"): _branch_of_credential,
}


class ContractViolation(AssertionError):
    pass


@dataclass(frozen=True)
class Exchange:
    """One request and its answer, as seen on the wire."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: Mapping[str, str]
    body: bytes
    status: int
    response_body: bytes
    response_type: str

    @classmethod
    def of(cls, request: httpx.Request, response: httpx.Response, body: bytes) -> Exchange:
        return cls(
            method=request.method.lower(),
            path=request.url.path,
            query=list(request.url.params.multi_items()),
            headers=dict(request.headers),
            body=request.content,
            status=response.status_code,
            response_body=body,
            response_type=response.headers.get("content-type", "").split(";")[0],
        )


def template_of(method: str, path: str) -> str:
    """The contract's path template that ``path`` matches (most specific first)."""
    parts = path.strip("/").split("/")
    best: str | None = None
    for template, item in contract()["paths"].items():
        tparts = template.strip("/").split("/")
        if len(tparts) != len(parts) or method not in item:
            continue
        if all(t == p or (t.startswith("{") and t.endswith("}")) for t, p in zip(tparts, parts, strict=True)):
            literal = sum(not t.startswith("{") for t in tparts)
            if best is None or literal > sum(not t.startswith("{") for t in best.strip("/").split("/")):
                best = template
    if best is None:
        raise ContractViolation(f"{method.upper()} {path}: no such operation in the contract")
    return best


def _declared_parameters(template: str, method: str) -> dict[str, dict[str, Any]]:
    item = contract()["paths"][template]
    declared: dict[str, dict[str, Any]] = {}
    for param in [*item.get("parameters", []), *item[method].get("parameters", [])]:
        if "$ref" in param:
            param = contract()["components"]["parameters"][param["$ref"].rsplit("/", 1)[1]]
        declared[param["name"]] = param
    return declared


def _mock_request(ex: Exchange) -> MockRequest:
    args: dict[str, str] = dict(ex.query)
    content_type = ex.headers.get("content-type", "application/json").split(";")[0]
    return MockRequest(
        SERVER,
        ex.method,
        ex.path,
        args=args,
        headers=dict(ex.headers),
        data=ex.body or None,
        content_type=content_type,
    )


def check_request(ex: Exchange) -> str:
    """Raise ContractViolation unless the request is what the contract documents; returns the template."""
    template = template_of(ex.method, ex.path)
    declared = _declared_parameters(template, ex.method)
    undeclared = sorted({k for k, _ in ex.query} - {n for n, p in declared.items() if p["in"] == "query"})
    if undeclared:
        raise ContractViolation(
            f"{ex.method.upper()} {template}: query parameter(s) not in the contract: {undeclared}"
        )
    repeated = sorted({k for k, _ in ex.query if sum(1 for q, _ in ex.query if q == k) > 1})
    if repeated:
        raise ContractViolation(f"{ex.method.upper()} {template}: repeated query parameter(s) {repeated}")
    variant = _VARIANTS.get((ex.method, template))
    try:
        if variant is None:
            _openapi().validate_request(_mock_request(ex))
        else:
            # Parameters and security through openapi-core; the body against its titled variant.
            _openapi().validate_request(_mock_request(ex.__class__(**{**ex.__dict__, "body": b""})))
    except Exception as exc:
        if variant is None or "body" not in str(exc).lower():
            raise ContractViolation(f"{ex.method.upper()} {template}: {exc}") from None
    if variant is not None:
        body = json.loads(ex.body)
        check_body_variant(ex.method, template, body, variant(body))
    return template


def request_variants(method: str, template: str) -> dict[str, dict[str, Any]]:
    schema = contract()["paths"][template][method]["requestBody"]["content"]["application/json"]["schema"]
    return {v["title"]: v for v in schema["oneOf"]}


def check_body_variant(method: str, template: str, body: Any, title: str) -> None:
    schema = request_variants(method, template)[title]
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(body), key=str)
    if errors:
        where = "; ".join(f"{'.'.join(map(str, e.absolute_path)) or 'body'}: {e.message}" for e in errors)
        raise ContractViolation(f"{method.upper()} {template} ({title}): {where}")


def check_response(ex: Exchange) -> str:
    """Raise ContractViolation unless the status is documented and the body matches its schema."""
    template = template_of(ex.method, ex.path)
    responses = contract()["paths"][template][ex.method]["responses"]
    if str(ex.status) not in responses:
        raise ContractViolation(
            f"{ex.method.upper()} {template}: status {ex.status} is not documented "
            f"(documented: {', '.join(sorted(responses))})"
        )
    if 300 <= ex.status < 400:
        return template  # the consent redirect: a Location header, no body
    response = MockResponse(ex.response_body, status_code=ex.status, content_type=ex.response_type)
    try:
        _openapi().validate_response(_mock_request(ex), response)
    except Exception as exc:
        raise ContractViolation(f"{ex.method.upper()} {template} -> {ex.status}: {exc}") from None
    return template


def response_schema(method: str, template: str, status: int) -> dict[str, Any]:
    """The resolved JSON schema of one documented response (for generating bodies)."""
    node = contract()["paths"][template][method]["responses"][str(status)]
    if "$ref" in node:
        node = contract()["components"]["responses"][node["$ref"].rsplit("/", 1)[1]]
    schema: dict[str, Any] = node["content"]["application/json"]["schema"]
    return resolve(schema)


def resolve(node: Any) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            _, _, section, name = node["$ref"].split("/", 3)
            return resolve(contract()["components"][section][name])
        return {k: resolve(v) for k, v in node.items() if k not in ("example", "examples", "description")}
    if isinstance(node, list):
        return [resolve(v) for v in node]
    return node


class RecordingTransport(httpx.AsyncBaseTransport):
    """A real HTTP transport that also keeps every exchange, for checking after the calls."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        body = await response.aread()
        self.exchanges.append(Exchange.of(request, response, body))
        return httpx.Response(response.status_code, headers=response.headers, content=body, request=request)

    async def aclose(self) -> None:
        await self._inner.aclose()
