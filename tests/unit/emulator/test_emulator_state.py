"""The emulator's rules as pure logic, on a fake clock (no sockets, no sleeping)."""

from __future__ import annotations

import pytest

from nylas_operator.emulator.config import ApplicationConfig, Behaviour
from nylas_operator.emulator.errors import ApiError
from nylas_operator.emulator.schemas import CustomAuth
from nylas_operator.emulator.state import EmulatorState


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state(clock: Clock) -> EmulatorState:
    st = EmulatorState((ApplicationConfig("app", "key"),), Behaviour(scope_cache_delay=300.0), clock=clock)
    st.create_connector(
        "app", "microsoft", name=None, settings={"client_id": "a", "client_secret": "b"}, scope=["User.Read"],
        active_credential_id=None,
    )  # fmt: skip
    return st


def _ms_auth(cred_id: str, email: str = "ann@acme.com") -> CustomAuth:
    return CustomAuth("microsoft", email, cred_id, None, {"email_address": email, "credential_id": cred_id})


def test_custom_auth_waits_exactly_the_scope_cache_delay(state: EmulatorState, clock: Clock) -> None:
    cred, _ = state.create_credential("app", "microsoft", name="c", credential_type="adminconsent", data={})
    state.record_consent(cred, approved=True)
    clock.now += 299.999
    with pytest.raises(ApiError) as caught:
        state.custom_auth("app", _ms_auth(cred.id))
    assert (caught.value.status, caught.value.type) == (400, "provider_error")
    assert caught.value.provider_error is not None and caught.value.provider_error["code"] == "AADSTS65001"
    clock.now += 0.001
    grant, created = state.custom_auth("app", _ms_auth(cred.id))
    assert created and grant.scope == ["User.Read"]


def test_a_new_approval_restarts_the_window(state: EmulatorState, clock: Clock) -> None:
    cred, _ = state.create_credential("app", "microsoft", name="c", credential_type="adminconsent", data={})
    state.record_consent(cred, approved=True)
    clock.now += 400
    state.record_consent(cred, approved=True)
    with pytest.raises(ApiError):
        state.custom_auth("app", _ms_auth(cred.id))


def test_rotating_the_secret_keeps_consent_but_a_new_client_id_drops_it(state: EmulatorState) -> None:
    data = {"client_id": "x", "client_secret": "s", "tenant": "t"}
    cred, _ = state.create_credential("app", "microsoft", name="c", credential_type="adminconsent", data=data)
    state.record_consent(cred, approved=True)
    state.update_credential("app", "microsoft", cred.id, name=None, data={**data, "client_secret": "s2"})
    assert cred.id in state.consents
    state.update_credential("app", "microsoft", cred.id, name=None, data={**data, "client_id": "y"})
    assert cred.id not in state.consents


def test_create_is_deduplicated_only_for_identical_data(state: EmulatorState) -> None:
    first, created = state.create_credential(
        "app", "microsoft", name="c", credential_type="adminconsent", data={}
    )
    again, created_again = state.create_credential(
        "app", "microsoft", name="c", credential_type="adminconsent", data={}
    )
    assert (created, created_again, again.id) == (True, False, first.id)
    with pytest.raises(ApiError) as caught:
        state.create_credential(
            "app", "microsoft", name="c", credential_type="adminconsent", data={"tenant": "t"}
        )
    assert caught.value.status == 400


def test_connector_delete_cascades(state: EmulatorState, clock: Clock) -> None:
    cred, _ = state.create_credential("app", "microsoft", name="c", credential_type="adminconsent", data={})
    state.record_consent(cred, approved=True, at=0.0)
    grant, _ = state.custom_auth("app", _ms_auth(cred.id))
    state.delete_connector("app", "microsoft")
    assert state.credentials == {} and state.consents == {}
    assert grant.grant_status == "invalid"


def test_repr_of_records_hides_secrets(state: EmulatorState) -> None:
    cred, _ = state.create_credential(
        "app", "microsoft", name="c", credential_type="adminconsent", data={"client_secret": "hush-hush"}
    )
    assert "hush-hush" not in repr(cred)
    assert "key" not in repr(state.applications["app"]).replace("api_key", "")
