"""The client fed answers generated from the contract's own response schemas (hypothesis-jsonschema).

For every operation the client uses and every status the contract documents for it, bodies are
generated from the response schema: optional fields missing, unknown extra fields (the schemas
allow them where they do not say otherwise), and ``null`` in optional fields (the SDKs treat them
as nullable). The client must parse them or raise a typed error; never crash, and never return a
value that differs from what the body said.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from nylas_oracle import contract, response_schema

from nylas_operator import nylas
from nylas_operator.nylas import (
    AdminConsentCredentialData,
    ConnectorCreate,
    ConnectorUpdate,
    CredentialCreate,
    CredentialType,
    CredentialUpdate,
    GrantUpdate,
    LimiterRegistry,
    MicrosoftConnectorSettings,
    NylasClient,
    NylasSettings,
    RetryPolicy,
)
from nylas_operator.nylas.errors import error_class_for

EXAMPLES = 10
Call = Callable[[NylasClient], Awaitable[Any]]
MS = MicrosoftConnectorSettings(client_id="a", client_secret="s")
AC = CredentialCreate(
    name="n",
    credential_type=CredentialType.ADMINCONSENT,
    credential_data=AdminConsentCredentialData(tenant="t"),
)

# (method, template) -> the client call that hits it, and the model its data parses into (None: a delete).
CALLS: dict[tuple[str, str], tuple[Call, type[Any] | None, bool]] = {
    ("get", "/v3/applications"): (lambda c: c.applications.get(), nylas.Application, False),
    ("get", "/v3/applications/redirect-uris"): (
        lambda c: c.applications.redirect_uris(),
        nylas.RedirectUri,
        True,
    ),
    ("post", "/v3/applications/redirect-uris"): (
        lambda c: c.applications.add_redirect_uri("https://x.example/cb"),
        nylas.RedirectUri,
        False,
    ),
    ("get", "/v3/connectors"): (lambda c: c.connectors.list(), nylas.Connector, True),
    ("post", "/v3/connectors"): (
        lambda c: c.connectors.create(ConnectorCreate(provider=nylas.Provider.MICROSOFT, settings=MS)),
        nylas.Connector,
        False,
    ),
    ("get", "/v3/connectors/{provider}"): (lambda c: c.connectors.get("microsoft"), nylas.Connector, False),
    ("patch", "/v3/connectors/{provider}"): (
        lambda c: c.connectors.update("microsoft", ConnectorUpdate(scope=["User.Read"])),
        nylas.Connector,
        False,
    ),
    ("delete", "/v3/connectors/{provider}"): (lambda c: c.connectors.delete("microsoft"), None, False),
    ("get", "/v3/connectors/{provider}/creds"): (
        lambda c: c.credentials.list("microsoft"),
        nylas.Credential,
        True,
    ),
    ("post", "/v3/connectors/{provider}/creds"): (
        lambda c: c.credentials.create("microsoft", AC),
        nylas.Credential,
        False,
    ),
    ("get", "/v3/connectors/{provider}/creds/{id}"): (
        lambda c: c.credentials.get("microsoft", "c-1"),
        nylas.Credential,
        False,
    ),
    ("patch", "/v3/connectors/{provider}/creds/{id}"): (
        lambda c: c.credentials.update("microsoft", "c-1", CredentialUpdate(name="m")),
        nylas.Credential,
        False,
    ),
    ("delete", "/v3/connectors/{provider}/creds/{id}"): (
        lambda c: c.credentials.delete("microsoft", "c-1"),
        None,
        False,
    ),
    ("post", "/v3/connect/custom"): (
        lambda c: c.auth.custom(provider="microsoft", email_address="a@b.example", credential_id="c-1"),
        nylas.Grant,
        False,
    ),
    ("get", "/v3/grants"): (lambda c: c.grants.list(), nylas.Grant, True),
    ("get", "/v3/grants/{grantId}"): (lambda c: c.grants.get("g-1"), nylas.Grant, False),
    ("patch", "/v3/grants/{grantId}"): (
        lambda c: c.grants.update("g-1", GrantUpdate(scope=["a"])),
        nylas.Grant,
        False,
    ),
    ("delete", "/v3/grants/{grantId}"): (lambda c: c.grants.delete("g-1"), None, False),
}

# Fields without which an object is unusable: a typed error is the right answer when they are absent.
NEEDED = {
    nylas.Application: ("application_id",),
    nylas.RedirectUri: ("url",),
    nylas.Connector: ("provider",),
    nylas.Credential: ("id",),
    nylas.Grant: ("id", "provider"),
}
# Fields compared between the body and the parsed value (a silently different value fails).
COMPARED = {
    nylas.Application: ("application_id", "region"),
    nylas.RedirectUri: ("id", "url", "platform"),
    nylas.Connector: ("provider", "name", "active_credential_id"),
    nylas.Credential: ("id", "name", "created_at", "updated_at"),
    nylas.Grant: ("id", "provider", "email", "grant_status", "created_at"),
}


def _cases() -> list[tuple[str, str, int]]:
    cases = []
    for method, template in CALLS:
        for status, node in contract()["paths"][template][method]["responses"].items():
            if "$ref" in node or "content" in node:
                cases.append((method, template, int(status)))
    return cases


def _with_nulls(draw: st.DrawFn, obj: Any, model: type[Any] | None) -> Any:
    """Some optional fields of the data object set to null (never the ones that identify it)."""
    if not isinstance(obj, dict) or model is None:
        return obj
    keep = set(NEEDED.get(model, ()))
    optional = sorted(k for k in obj if k not in keep)
    nulled = draw(st.lists(st.sampled_from(optional), unique=True)) if optional else []
    return {**obj, **dict.fromkeys(nulled)}


@st.composite
def success_bodies(draw: st.DrawFn, method: str, template: str, status: int, model: Any, many: bool) -> Any:
    schema = response_schema(method, template, status)
    data_schema = schema.get("properties", {}).get("data")
    body = draw(from_schema(schema))
    if data_schema is not None and isinstance(body, dict) and draw(st.booleans()):
        # Most generated envelopes omit data (the contract does not require it); half carry it.
        data = draw(from_schema(data_schema))
        if draw(st.booleans()):
            data = [_with_nulls(draw, d, model) for d in data] if many else _with_nulls(draw, data, model)
        body = {**body, "data": data}
    return body


def _client(status: int, body: Any) -> NylasClient:
    content = json.dumps(body).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers={"content-type": "application/json"})

    return NylasClient(
        "key",
        api_url="https://api.us.nylas.com",
        application_id="app",
        settings=NylasSettings(retry=RetryPolicy(max_attempts=1)),
        registry=LimiterRegistry(),
        http_transport=httpx.MockTransport(handler),
    )


async def _run(call: Call, status: int, body: Any) -> Any:
    async with _client(status, body) as client:
        return await call(client)


def _check_parsed(result: Any, body: Any, model: type[Any], many: bool) -> None:
    data = body.get("data") if isinstance(body, dict) else None
    items = result.items if isinstance(result, nylas.Page) else result
    expected = (data or []) if many else [data]
    got = items if many else [items]
    assert len(got) == len(expected)
    for value, raw in zip(got, expected, strict=True):
        for name in COMPARED[model]:
            if raw.get(name) is not None:
                assert getattr(value, name) == raw[name], name


def _needs_missing(body: Any, model: type[Any], many: bool) -> bool:
    data = body.get("data") if isinstance(body, dict) else None
    if data is None:
        return not many
    objects = data if many else [data]
    return any(
        not isinstance(o, dict) or any(not isinstance(o.get(f), str) for f in NEEDED[model]) for o in objects
    )


@pytest.mark.parametrize(("method", "template", "status"), _cases(), ids=lambda v: str(v))
def test_the_client_parses_or_refuses_every_documented_answer(
    method: str, template: str, status: int
) -> None:
    call, model, many = CALLS[(method, template)]
    if status >= 400:
        strategy = from_schema(response_schema(method, template, status))
    else:
        strategy = success_bodies(method, template, status, model, many)

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(body=strategy)
    def check(body: Any) -> None:
        try:
            result = asyncio.run(_run(call, status, body))
        except nylas.NylasStatusError as exc:
            assert status >= 400 and exc.status == status
            assert type(exc) is error_class_for(status)
            return
        except nylas.NylasResponseError:
            # A typed refusal is right only when the body lacks what the object cannot do without.
            assert status < 400 and model is not None and _needs_missing(body, model, many), body
            return
        assert status < 400
        if model is not None:
            _check_parsed(result, body, model, many)

    check()
