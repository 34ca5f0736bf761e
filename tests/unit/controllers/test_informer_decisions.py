"""Which watch events of a grant need a run (``informer.needs_run``, pure; no cluster).

A grant is looked at on first sight, when what a reconcile acts on changes (spec, meaningful
annotations), when its deletion starts, and when the finalizer does not match ``deletionPolicy``;
never for a status write (its own or anyone's), a label, kubectl's last-applied annotation or
kopf's old bookkeeping; and a deleting grant is never looked at again for its own status writes
(its retries wait for their timer: no hot loop against a failing Nylas delete).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from nylas_operator.controllers import informer
from nylas_operator.kube import FINALIZER, GRANTS


def grant(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "metadata": {
            "namespace": "team-a",
            "name": "ada",
            "uid": "uid-1",
            "resourceVersion": "10",
            "annotations": {},
            "labels": {},
        },
        "spec": {"credentialRef": {"name": "m365"}, "email": "ada@acme.example", "deletionPolicy": "Orphan"},
        "status": {"phase": "Ready", "grantId": "g-1"},
    }
    for path, value in changes.items():
        target = body
        *parents, leaf = path.split("__")
        for part in parents:
            target = target.setdefault(part, {})
        if value is None:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return body


def seen(body: dict[str, Any]) -> informer.Record:
    run, record = informer.needs_run(None, body)
    assert run  # first sight always runs
    return record


BASE = grant()
DELETE_POLICY = grant(spec__deletionPolicy="Delete", metadata__finalizers=[FINALIZER])


@pytest.mark.parametrize(
    ("case", "before", "after", "runs"),
    [
        ("status written (ours or anyone's)", BASE, grant(status__phase="Degraded"), False),
        ("new resourceVersion only", BASE, grant(metadata__resourceVersion="11"), False),
        ("label added", BASE, grant(metadata__labels={"team": "a"}), False),
        (
            "kubectl's last-applied annotation",
            BASE,
            grant(metadata__annotations={"kubectl.kubernetes.io/last-applied-configuration": "{}"}),
            False,
        ),
        (
            "kopf's old bookkeeping",
            BASE,
            grant(metadata__annotations={"kopf.nylas-operator.io/x": "1"}),
            False,
        ),
        ("spec changed", BASE, grant(spec__email="bob@acme.example"), True),
        ("scopes added", BASE, grant(spec__scopes=["Mail.Read"]), True),
        ("paused", BASE, grant(metadata__annotations={"nylas-operator.io/paused": "true"}), True),
        ("policy Delete without the finalizer", DELETE_POLICY, grant(spec__deletionPolicy="Delete"), True),
        ("finalizer kept on Orphan", BASE, grant(metadata__finalizers=[FINALIZER]), True),
        ("Delete with the finalizer, status write", DELETE_POLICY, copy.deepcopy(DELETE_POLICY), False),
        (
            "deletion starts (finalizer held)",
            DELETE_POLICY,
            grant(
                spec__deletionPolicy="Delete",
                metadata__finalizers=[FINALIZER],
                metadata__deletionTimestamp="t",
            ),
            True,
        ),
        ("deletion starts, no finalizer (Orphan)", BASE, grant(metadata__deletionTimestamp="t"), False),
        ("replaced under the same name", BASE, grant(metadata__uid="uid-2"), True),
    ],
)
def test_which_events_need_a_run(
    case: str, before: dict[str, Any], after: dict[str, Any], runs: bool
) -> None:
    run, record = informer.needs_run(seen(before), after)
    assert run is runs, case
    assert record.uid == after["metadata"]["uid"] and record.email == after["spec"]["email"]


def deleting(**changes: Any) -> dict[str, Any]:
    held = {
        "spec__deletionPolicy": "Delete",
        "metadata__finalizers": [FINALIZER],
        "metadata__deletionTimestamp": "2030-01-01T00:00:00Z",
    }
    return grant(**{**held, **changes})


def test_a_deleting_grant_is_not_run_again_by_its_own_status_writes() -> None:
    record = seen(deleting())
    run, record = informer.needs_run(record, deleting(status__deletionAttempts=3))
    assert not run and record.deleting
    run, _ = informer.needs_run(record, deleting(status__deletionAttempts=4, metadata__resourceVersion="12"))
    assert not run


def test_a_deleting_grant_switched_to_orphan_runs_at_once() -> None:
    record = seen(deleting())
    run, _ = informer.needs_run(record, deleting(spec__deletionPolicy="Orphan"))
    assert run


def test_a_deleting_grant_whose_finalizer_is_gone_needs_nothing() -> None:
    record = seen(deleting())
    run, _ = informer.needs_run(record, deleting(metadata__finalizers=[], spec__deletionPolicy="Orphan"))
    assert not run


def test_listed_at_start_up_means_not_looked_at_yet() -> None:
    record = informer.record_of(BASE, looked_at=False)
    assert record.essence is None
    run, after = informer.needs_run(record, copy.deepcopy(BASE))
    assert run and after.essence is not None
    assert informer.needs_run(after, copy.deepcopy(BASE))[0] is False


def test_the_essence_ignores_key_order() -> None:
    a = grant(metadata__annotations={"x": "1", "y": "2"})
    b = grant(metadata__annotations={"y": "2", "x": "1"})
    b["spec"] = dict(reversed(list(b["spec"].items())))
    assert informer.essence(a) == informer.essence(b)


def test_a_grant_that_vanished_unseen_is_forgotten_with_its_uid_and_email() -> None:
    record = seen(BASE)
    body = informer.minimal_body((GRANTS, "team-a", "ada"), record)
    assert body == {
        "metadata": {"namespace": "team-a", "name": "ada", "uid": "uid-1"},
        "spec": {"email": "ada@acme.example"},
    }


@pytest.mark.parametrize(
    ("version", "than", "result"),
    [
        ("12", "11", True),
        ("11", "11", True),
        ("10", "11", False),
        ("abc", "abc", True),
        ("abd", "abc", False),
    ],
)
def test_a_watch_event_shows_a_write_when_it_is_not_older(version: str, than: str, result: bool) -> None:
    assert informer._not_older(version, than) is result
