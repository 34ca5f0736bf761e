"""The leader's write fence (``NylasSettings.write_gate``): a write refused before it leaves the
process, reads untouched, nothing retried."""

from __future__ import annotations

import httpx
import pytest
from nylas_mock import API_KEY, APP_ID, FakeClock, Recorder, reply

from nylas_operator.nylas import LimiterRegistry, NylasClient, NylasSettings, RetryPolicy
from nylas_operator.nylas.errors import NylasError, WriteFenced

CONNECTOR = {"provider": "google", "name": "G", "settings": {}, "scope": []}


def fenced_client(recorder: Recorder, leading: list[bool]) -> NylasClient:
    clock = FakeClock()
    return NylasClient(
        API_KEY,
        application_id=APP_ID,
        settings=NylasSettings(retry=RetryPolicy(max_attempts=3), write_gate=lambda: leading[0]),
        registry=LimiterRegistry(),
        http_transport=httpx.MockTransport(recorder),
        sleep=clock.sleep,
        clock=clock,
    )


async def test_writes_pass_while_leading_and_never_leave_after() -> None:
    recorder = Recorder(route=lambda _: reply(200, {"request_id": "r", "data": CONNECTOR}))
    deleted = {"request_id": "r"}
    leading = [True]
    client = fenced_client(recorder, leading)
    recorder.script.append(reply(200, deleted))
    await client.connectors.delete("google")
    assert [r.method for r in recorder.requests] == ["DELETE"]
    leading[0] = False
    with pytest.raises(WriteFenced) as refused:
        await client.connectors.delete("google")
    assert not isinstance(refused.value, NylasError)  # no controller turns it into a status
    await client.connectors.get("google")  # reads still pass
    assert [r.method for r in recorder.requests] == ["DELETE", "GET"]
    await client.aclose()
