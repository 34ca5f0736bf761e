"""Tenants never borrow each other's keys: the client pool and Conflict messages (pure logic)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from nylas_operator import nylas
from nylas_operator.controllers.claims import Claimant, connector_claimant, holder
from nylas_operator.controllers.clients import AppKey, ClientPool, Owner

APP = AppKey("https://api.us.nylas.com", "shared-app-id")
A = Owner("team-a", "uid-a")
B = Owner("team-b", "uid-b")


@pytest.fixture
async def pool() -> ClientPool:
    return ClientPool(nylas.NylasSettings())


async def test_a_client_is_never_handed_to_another_owner_of_the_same_application(pool: ClientPool) -> None:
    client_a = pool.get(A, APP, SecretStr("key-of-a"))
    assert pool.cached(A) is client_a
    assert pool.cached(B) is None  # B names A's application but never built a client of its own
    client_b = pool.get(B, APP, SecretStr("key-of-b"))
    assert client_b is not client_a
    assert pool.cached(A) is client_a and pool.cached(B) is client_b
    await pool.aclose()


async def test_a_changed_key_or_application_builds_a_new_client(pool: ClientPool) -> None:
    first = pool.get(A, APP, SecretStr("key-1"))
    assert pool.get(A, APP, SecretStr("key-1")) is first
    rotated = pool.get(A, APP, SecretStr("key-2"))
    assert rotated is not first
    moved = pool.get(A, AppKey("https://api.eu.nylas.com", "shared-app-id"), SecretStr("key-2"))
    assert moved is not rotated
    await pool.aclose()


async def test_credential_ids_remember_their_owner_and_forget_drops_the_client(pool: ClientPool) -> None:
    pool.get(A, APP, SecretStr("key-of-a"))
    pool.remember_credential("cred-1", A)
    assert pool.owner_of_credential("cred-1") == A
    assert pool.owner_of_credential("cred-2") is None
    pool.forget(A)
    assert pool.cached(A) is None
    await pool.aclose()


async def test_the_drift_loop_reads_only_with_a_key_verified_for_the_application(pool: ClientPool) -> None:
    unverified = pool.get(B, APP, SecretStr("key-of-b"))
    assert pool.for_app(APP) is None
    pool.mark_verified(B, APP, SecretStr("key-of-b"))
    assert pool.for_app(APP) is unverified
    pool.get(B, APP, SecretStr("rotated"))  # the verification was for the old key
    assert pool.for_app(APP) is None
    await pool.aclose()


def test_a_conflict_names_the_holder_only_within_its_namespace() -> None:
    winner = Claimant("team-a", "dana", "uid-a", "2026-01-01T00:00:00Z", established=True)
    assert holder(winner, "team-a", "ServiceAccountGrant") == "ServiceAccountGrant 'dana' in this namespace"
    elsewhere = holder(winner, "team-b", "ServiceAccountGrant")
    assert "team-a" not in elsewhere and "dana" not in elsewhere and "held elsewhere" in elsewhere


def _connector(generation: int, observed: int, ready: str = "True") -> dict[str, object]:
    return {
        "metadata": {"namespace": "team-b", "name": "c", "uid": "u", "generation": generation},
        "status": {"conditions": [{"type": "Ready", "status": ready, "observedGeneration": observed}]},
    }


@pytest.mark.parametrize(
    ("generation", "observed", "ready", "established"),
    [(2, 2, "True", True), (3, 2, "True", False), (2, 2, "False", False)],
)
def test_a_connector_holds_its_claim_only_when_ready_for_its_current_generation(
    generation: int, observed: int, ready: str, established: bool
) -> None:
    assert connector_claimant(_connector(generation, observed, ready)).established is established
