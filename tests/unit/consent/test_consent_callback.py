"""The consent callback on a real socket with an in-memory recorder."""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlencode

import aiohttp
import pytest
from consent_fakes import FakeRecorder

from nylas_operator.consent import tokens
from nylas_operator.consent.callback import SECURITY_HEADERS, make_callback_app
from nylas_operator.consent.clientaddr import parse_proxies
from nylas_operator.consent.pages import INVALID_MESSAGE
from nylas_operator.consent.ratelimit import ClientRateLimiter
from nylas_operator.observability.serving import RunningSite, start_site

PATH = "/consent/callback"


def url(site: RunningSite, **params: str) -> str:
    return f"{site.url}{PATH}?{urlencode(params)}"


async def get(
    http: aiohttp.ClientSession, target: str, method: str = "GET"
) -> tuple[int, str, dict[str, str]]:
    async with http.request(method, target, allow_redirects=False) as response:
        return response.status, await response.text(), dict(response.headers)


def assert_security_headers(headers: dict[str, str]) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == value, name
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"].startswith("default-src 'none'")


@pytest.mark.parametrize("flag", ["true", "True", "TRUE"])
async def test_granted_is_recorded_once_and_page_says_when(
    callback_site: RunningSite, http: aiohttp.ClientSession, recorder: FakeRecorder, flag: str
) -> None:
    token = recorder.issue()
    status, body, headers = await get(
        http, url(callback_site, admin_consent=flag, state=token, tenant="t-123")
    )
    assert status == 200
    assert "Consent recorded" in body
    assert "2030-05-06 07:08:09 UTC" in body
    assert "team-a/ms-cred" in body
    assert headers["Content-Type"].startswith("text/html")
    assert_security_headers(headers)
    [(state_hash, outcome)] = recorder.recorded
    assert state_hash == tokens.hash_state(token)
    assert outcome.granted and outcome.tenant == "t-123" and outcome.error is None


async def test_provider_error_is_recorded_and_escaped(
    callback_site: RunningSite, http: aiohttp.ClientSession, recorder: FakeRecorder
) -> None:
    token = recorder.issue(display_name="<b>x</b>")
    xss = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    status, body, headers = await get(
        http,
        url(
            callback_site,
            state=token,
            error="access_denied<svg/onload=alert(2)>",
            error_description=xss + "\nline two",
            error_uri="javascript:alert(3)",
        ),
    )
    assert status == 200
    assert "Consent refused" in body
    assert "<script>" not in body and "<img" not in body and "<svg" not in body and "<b>x" not in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    assert "access_denied&lt;svg/onload=alert(2)&gt;" in body
    assert 'href="javascript' not in body
    assert_security_headers(headers)
    [(_, outcome)] = recorder.recorded
    assert not outcome.granted
    assert outcome.error == "access_denied<svg/onload=alert(2)>"
    assert outcome.error_description is not None and "\n" not in outcome.error_description


async def test_admin_consent_false_is_a_refusal(
    callback_site: RunningSite, http: aiohttp.ClientSession, recorder: FakeRecorder
) -> None:
    token = recorder.issue()
    status, body, _ = await get(http, url(callback_site, admin_consent="False", state=token))
    assert status == 200 and "Consent refused" in body
    [(_, outcome)] = recorder.recorded
    assert not outcome.granted and outcome.error == "consent_not_granted"


async def test_bad_states_all_get_the_same_generic_refusal(
    callback_site: RunningSite, http: aiohttp.ClientSession, recorder: FakeRecorder
) -> None:
    good = recorder.issue()
    assert (await get(http, url(callback_site, admin_consent="true", state=good)))[0] == 200
    expired = recorder.issue(age=timedelta(hours=2))
    live = recorder.issue()
    tampered = live[:-1] + ("A" if live[-1] != "A" else "B")
    unknown = tokens.new_state()[0]
    cases = {
        "replayed": url(callback_site, admin_consent="true", state=good),
        "expired": url(callback_site, admin_consent="true", state=expired),
        "tampered": url(callback_site, admin_consent="true", state=tampered),
        "unknown": url(callback_site, admin_consent="true", state=unknown),
        "error for unknown": url(callback_site, error="access_denied", state=unknown),
        "missing state": url(callback_site, admin_consent="true"),
        "empty state": url(callback_site, admin_consent="true", state=""),
        "oversized state": url(callback_site, admin_consent="true", state="a" * 300),
        "malformed state": url(
            callback_site, admin_consent="true", state="../../etc/passwd-aaaaaaaaaaaaaaaaaaaa"
        ),
        "duplicated state": f"{url(callback_site, admin_consent='true', state=live)}&state={live}",
        "no outcome": url(callback_site, state=live),
        "garbage flag": url(callback_site, admin_consent="yes", state=live),
        "huge query": url(callback_site, admin_consent="true", state=live, pad="x" * 5000),
    }
    answers = {name: await get(http, target) for name, target in cases.items()}
    bodies = {body for _, body, _ in answers.values()}
    assert len(bodies) == 1, "every refusal must look the same"
    for name, (status, body, headers) in answers.items():
        assert status == 400, name
        assert INVALID_MESSAGE in body
        assert_security_headers(headers)
    # Only the one genuine consent was recorded; the live state is still unused.
    assert len(recorder.recorded) == 1
    assert not recorder.pending[tokens.hash_state(live)].used
    # Malformed input never reached the recorder: only well-formed states were looked up.
    looked_up = {h for h, _ in recorder.calls}
    assert looked_up == {tokens.hash_state(t) for t in (good, expired, tampered, unknown)}


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
async def test_only_get_and_head(
    callback_site: RunningSite, http: aiohttp.ClientSession, recorder: FakeRecorder, method: str
) -> None:
    token = recorder.issue()
    status, _, headers = await get(http, url(callback_site, admin_consent="true", state=token), method=method)
    assert status == 405
    assert headers["Allow"] == "GET, HEAD"
    assert_security_headers(headers)
    assert recorder.calls == []


async def test_head_never_records(
    callback_site: RunningSite, http: aiohttp.ClientSession, recorder: FakeRecorder
) -> None:
    token = recorder.issue()
    status, body, headers = await get(
        http, url(callback_site, admin_consent="true", state=token), method="HEAD"
    )
    assert status == 200 and body == ""
    assert_security_headers(headers)
    assert recorder.calls == []


async def test_other_paths_are_404_with_headers(
    callback_site: RunningSite, http: aiohttp.ClientSession
) -> None:
    status, body, headers = await get(http, f"{callback_site.url}/healthz")
    assert status == 404 and "Not found" in body
    assert_security_headers(headers)


async def test_recorder_failure_is_503_and_the_state_stays_usable(
    callback_site: RunningSite, http: aiohttp.ClientSession, recorder: FakeRecorder
) -> None:
    token = recorder.issue()
    recorder.fail_next = True
    status, body, headers = await get(http, url(callback_site, admin_consent="true", state=token))
    assert status == 503 and "Try again" in body
    assert headers["Retry-After"] == "30"
    assert_security_headers(headers)
    status, _, _ = await get(http, url(callback_site, admin_consent="true", state=token))
    assert status == 200


async def test_rate_limit_per_client_address(recorder: FakeRecorder, http: aiohttp.ClientSession) -> None:
    limiter = ClientRateLimiter(rate=0.001, burst=3, global_rate=0.001, global_burst=5)
    site = await start_site(
        make_callback_app(
            recorder, rate_limiter=limiter, trusted_proxies=parse_proxies(["127.0.0.1", "10.0.0.0/8"])
        )
    )
    try:
        target = url(site, admin_consent="true", state=tokens.new_state()[0])
        statuses = []
        for _ in range(5):
            async with http.get(target, headers={"X-Forwarded-For": "203.0.113.9, 10.0.0.1"}) as response:
                statuses.append(response.status)
                if response.status == 429:
                    assert response.headers["Retry-After"] == "1"
                    for name, value in SECURITY_HEADERS.items():
                        assert response.headers[name] == value
        assert statuses == [400, 400, 400, 429, 429]
        # Another client has its own bucket...
        async with http.get(target, headers={"X-Forwarded-For": "198.51.100.2"}) as response:
            assert response.status == 400
        # ...until the global bucket (5) is empty too.
        async with http.get(target, headers={"X-Forwarded-For": "198.51.100.3"}) as response:
            assert response.status == 400
        async with http.get(target, headers={"X-Forwarded-For": "198.51.100.4"}) as response:
            assert response.status == 429
        assert len(recorder.calls) == 5  # rate-limited requests never reach the recorder
    finally:
        await site.close()


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    recorder: FakeRecorder, http: aiohttp.ClientSession
) -> None:
    limiter = ClientRateLimiter(rate=0.001, burst=2, global_rate=100, global_burst=100)
    # Only 10.0.0.0/8 is a proxy: the loopback peer is the client, whatever it claims.
    site = await start_site(
        make_callback_app(recorder, rate_limiter=limiter, trusted_proxies=parse_proxies(["10.0.0.0/8"]))
    )
    try:
        target = url(site, admin_consent="true", state=tokens.new_state()[0])
        statuses = []
        for i in range(4):  # a fresh forged address per request does not buy a fresh bucket
            async with http.get(target, headers={"X-Forwarded-For": f"198.51.100.{i}"}) as response:
                statuses.append(response.status)
        assert statuses == [400, 400, 429, 429]
    finally:
        await site.close()


async def test_raw_state_never_logged_even_with_access_log(
    recorder: FakeRecorder, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    from aiohttp import web

    caplog.set_level(logging.DEBUG)
    # configure_logging (run by other tests in this process) quiets the access log to WARNING.
    caplog.set_level(logging.DEBUG, logger="aiohttp.access")
    # Serve with aiohttp's access log ON (the default of a plain AppRunner) to prove the scrubber.
    runner = web.AppRunner(make_callback_app(recorder))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        base = f"http://127.0.0.1:{port}{PATH}"
        granted, refused, unknown = recorder.issue(), recorder.issue(), tokens.new_state()[0]
        recorder.fail_next = False
        for params in (
            {"admin_consent": "true", "state": granted},
            {"error": "access_denied", "state": refused},
            {"admin_consent": "true", "state": unknown},
        ):
            async with http.get(
                f"{base}?{urlencode(params)}", headers={"Referer": f"https://x/?state={granted}"}
            ):
                pass
        recorder.fail_next = True
        async with http.get(f"{base}?{urlencode({'admin_consent': 'true', 'state': unknown})}"):
            pass
    finally:
        await runner.cleanup()
    text = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert any(r.name == "aiohttp.access" for r in caplog.records), "the access log must have run"
    assert "Consent callback for state" in text
    for token in (granted, refused, unknown):
        assert token not in text
    assert tokens.short_hash(tokens.hash_state(granted)) in text


async def test_too_long_request_line_does_not_log_the_state(
    callback_site: RunningSite,
    http: aiohttp.ClientSession,
    recorder: FakeRecorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    token = recorder.issue()
    # Over aiohttp's 8190-byte request line limit: the parser fails before our handler runs.
    status, _, _ = await get(http, url(callback_site, state=token, admin_consent="true", pad="x" * 9000))
    assert status == 400
    assert recorder.calls == []
    assert any(r.name == "aiohttp.server" for r in caplog.records), "aiohttp must have logged the failure"
    handler = logging.StreamHandler()
    text = "\n".join(handler.format(r) for r in caplog.records)
    assert token not in text
    # Anyone can send such a request: a one-line warning, not an ERROR with a traceback.
    server = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in server)
    assert "refused a malformed HTTP request (LineTooLong)" in text and "Traceback" not in text
