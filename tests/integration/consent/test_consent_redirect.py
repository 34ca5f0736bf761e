"""The consent redirect contract, end to end over real sockets: the emulator (as Nylas/Microsoft)
redirects the browser to the operator's callback endpoint, which parses what it really receives.

The recorder here is an in-memory implementation of ``ConsentRecorder`` (hash → pending state); the
Kubernetes-backed recorder and scenario 4 on the real apiserver belong to the controllers' tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from fixtures.emulator import api_client, make_connector, make_credential
from nylas_operator.consent import tokens
from nylas_operator.consent.callback import make_callback_app
from nylas_operator.consent.pages import INVALID_MESSAGE
from nylas_operator.consent.recording import ConsentOutcome, RecordResult
from nylas_operator.emulator.harness import RunningEmulator
from nylas_operator.nylas.auth import build_admin_consent_url
from nylas_operator.observability.serving import RunningSite, start_site


class MemoryRecorder:
    def __init__(self) -> None:
        self.pending: set[str] = set()
        self.outcomes: list[ConsentOutcome] = []

    def issue(self) -> str:
        token, digest = tokens.new_state()
        self.pending.add(digest)
        return token

    async def record(self, state_hash: str, outcome: ConsentOutcome) -> RecordResult:
        if state_hash not in self.pending:
            return RecordResult.refused()
        self.outcomes.append(outcome)
        if not outcome.granted:
            return RecordResult(accepted=True)  # keep the state: the admin may retry the same URL
        self.pending.discard(state_hash)
        return RecordResult(accepted=True, grants_after=datetime.now(UTC) + timedelta(minutes=5))


@pytest.fixture
def recorder() -> MemoryRecorder:
    return MemoryRecorder()


@pytest.fixture
async def callback(recorder: MemoryRecorder) -> AsyncIterator[RunningSite]:
    site = await start_site(make_callback_app(recorder))
    try:
        yield site
    finally:
        await site.close()


def consent_url(emulator: RunningEmulator, callback: RunningSite, state: str) -> str:
    with api_client(emulator) as api:
        make_connector(api, "microsoft")
        credential = make_credential(api, "microsoft", name="k8s:team-a/ms", tenant="contoso-tenant-id")
    return build_admin_consent_url(
        base_url=emulator.url,
        client_id=emulator.application_id,
        credential_id=credential["id"],
        redirect_uri=f"{callback.url}/consent/callback",
        state=state,
    )


async def test_approval_is_recorded_once_and_a_replay_is_refused(
    emulator: RunningEmulator, callback: RunningSite, recorder: MemoryRecorder
) -> None:
    state = recorder.issue()
    url = consent_url(emulator, callback, state)
    async with httpx.AsyncClient(follow_redirects=True, timeout=10) as browser:
        page = await browser.get(url)
        assert page.status_code == 200, page.text
        assert str(page.url).startswith(callback.url)
        assert "Consent recorded" in page.text and " UTC" in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        [outcome] = recorder.outcomes
        assert outcome.granted and outcome.tenant
        replay = await browser.get(url)  # the emulator redirects again with the same state
        assert replay.status_code == 400 and INVALID_MESSAGE in replay.text
    assert len(recorder.outcomes) == 1


async def test_denial_shows_the_provider_reason_and_a_later_approval_works(
    emulator: RunningEmulator, callback: RunningSite, recorder: MemoryRecorder
) -> None:
    state = recorder.issue()
    url = consent_url(emulator, callback, state)
    emulator.configure(consent_mode="deny")
    async with httpx.AsyncClient(follow_redirects=True, timeout=10) as browser:
        page = await browser.get(url)
        assert page.status_code == 200
        assert "Consent refused" in page.text and "access_denied" in page.text
        assert "The administrator declined the consent request." in page.text
        [denied] = recorder.outcomes
        assert not denied.granted and denied.error == "access_denied" and denied.error_uri
        emulator.configure(consent_mode="prompt")  # the admin opens the URL again and approves
        prompt = await browser.get(url)
        assert prompt.status_code == 200 and "Approve" in prompt.text
        action = prompt.text.split('action="', 1)[1].split('"', 1)[0]
        approved = await browser.post(f"{emulator.url}{action}", data={"decision": "approve"})
        assert approved.status_code == 200 and "Consent recorded" in approved.text
    assert [o.granted for o in recorder.outcomes] == [False, True]


async def test_unknown_state_through_the_real_redirect_is_refused(
    emulator: RunningEmulator, callback: RunningSite, recorder: MemoryRecorder
) -> None:
    url = consent_url(emulator, callback, tokens.new_state()[0])  # never issued by the recorder
    async with httpx.AsyncClient(follow_redirects=True, timeout=10) as browser:
        page = await browser.get(url)
    assert page.status_code == 400 and INVALID_MESSAGE in page.text
    assert recorder.outcomes == []
