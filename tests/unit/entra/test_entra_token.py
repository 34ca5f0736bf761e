"""The Microsoft token request as a consent check: what is sent, what is kept of the answer, limits.

No network: ``httpx.MockTransport`` plays the token endpoint. The token itself must never leave
``parse_answer``: only the tenant id, the roles and the error code do.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from pydantic import SecretStr

from nylas_operator.entra import Answer, TokenClient, check_login_url, parse_answer

TENANT = "6f1c2a3b-0000-4000-8000-00000000abcd"


def jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def token_body(claims: dict[str, Any]) -> bytes:
    return json.dumps({"token_type": "Bearer", "expires_in": 3599, "access_token": jwt(claims)}).encode()


AADSTS700016 = json.dumps(
    {
        "error": "unauthorized_client",
        "error_description": "AADSTS700016: Application with identifier 'app' was not found in the "
        "directory 'x'. Trace ID: 1 Correlation ID: 2 Timestamp: 2030-01-01 00:00:00Z",
        "error_codes": [700016],
    }
).encode()

ANSWERS = [
    (
        "a token with roles and a tenant",
        200,
        token_body({"tid": TENANT, "roles": ["Mail.Read", "Calendars.Read"]}),
        Answer(True, roles=("Calendars.Read", "Mail.Read"), tenant_id=TENANT),
    ),
    (
        "a token without roles (nothing consented yet)",
        200,
        token_body({"tid": TENANT}),
        Answer(True, tenant_id=TENANT),
    ),
    ("AADSTS700016 by error_codes", 400, AADSTS700016, Answer(False, code="AADSTS700016")),
    (
        "an AADSTS code only in the description",
        401,
        json.dumps(
            {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret"}
        ).encode(),
        Answer(False, code="AADSTS7000215"),
    ),
    (
        "an OAuth error without a code",
        400,
        b'{"error": "invalid_request"}',
        Answer(False, code="invalid_request"),
    ),
    ("a server error", 503, b'{"error": "temporarily_unavailable"}', Answer(False, unavailable="HTTP 503")),
    ("not JSON", 200, b"<html>", Answer(False, unavailable="HTTP 200, not a JSON object")),
    (
        "a 200 without a readable token",
        200,
        b'{"access_token": "garbage"}',
        Answer(False, unavailable="HTTP 200 without a readable access token"),
    ),
]


@pytest.mark.parametrize(
    ("status", "content", "expected"), [a[1:] for a in ANSWERS], ids=[a[0] for a in ANSWERS]
)
def test_an_answer_keeps_only_the_tenant_the_roles_and_the_code(
    status: int, content: bytes, expected: Answer
) -> None:
    answer = parse_answer(status, content)
    assert answer == expected
    if status == 200 and answer.issued:
        token = json.loads(content)["access_token"]
        assert token not in repr(answer) and token.split(".")[1] not in repr(answer)


def client(handler: Any, **kw: Any) -> TokenClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return TokenClient(login_url="https://login.microsoftonline.com", http=http, **kw)


async def test_the_request_is_a_client_credentials_request_for_the_tenant() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=token_body({"tid": TENANT, "roles": ["Mail.Read"]}))

    answer = await client(handler).ask(TENANT, "app-id", SecretStr("s3cret"))
    assert answer == Answer(True, roles=("Mail.Read",), tenant_id=TENANT)
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"
    form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
    assert form == {
        "grant_type": "client_credentials",
        "client_id": "app-id",
        "client_secret": "s3cret",
        "scope": "https://graph.microsoft.com/.default",
    }
    assert "s3cret" not in str(request.url)


async def test_a_tenant_cannot_change_the_path() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(400, content=AADSTS700016)

    await client(handler).ask("../evil/x", "app", SecretStr("s"))
    assert seen == ["/..%2Fevil%2Fx/oauth2/v2.0/token"]


async def test_a_huge_answer_is_not_read_and_a_transport_failure_is_unavailable() -> None:
    def huge(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 10_000)

    answer = await client(huge, max_answer_bytes=1000).ask(TENANT, "app", SecretStr("s"))
    assert answer.unavailable == "the answer is larger than 1000 bytes"

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused to https://login.microsoftonline.com/secret-path")

    answer = await client(down).ask(TENANT, "app", SecretStr("s"))
    assert answer == Answer(False, unavailable="ConnectError")


def test_the_login_host_must_be_allowed() -> None:
    check_login_url("https://login.microsoftonline.com", ["login.microsoftonline.com"])
    check_login_url("http://127.0.0.1:8080", ["127.0.0.0/8"])
    for url in ("https://evil.example", "ftp://login.microsoftonline.com", "login.microsoftonline.com"):
        with pytest.raises(ValueError, match="not in the allowed hosts"):
            check_login_url(url, ["login.microsoftonline.com"])
    with pytest.raises(ValueError):
        TokenClient(login_url="https://evil.example")
