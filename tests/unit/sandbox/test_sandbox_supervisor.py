"""Signals become one Interrupted; children are stopped and reaped; messages are exact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from nylas_operator.devcluster import processes
from nylas_operator.sandbox import messages
from nylas_operator.sandbox.supervisor import Child, Interrupted, Signals, SupervisionError, http_ok


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_first_signal_interrupts_and_later_ones_are_only_noted_while_shielded(signum: int) -> None:
    repeats: list[int] = []
    signals = Signals(on_repeat=lambda: repeats.append(1))
    before = signal.getsignal(signum)
    signals.arm()
    try:
        with pytest.raises(Interrupted) as caught:
            os.kill(os.getpid(), signum)
            time.sleep(5)  # the handler raises before this ends
        assert caught.value.signum == signum
        signals.shield()
        os.kill(os.getpid(), signum)  # must not raise during clean-up
        time.sleep(0.05)
        assert repeats == [1]
    finally:
        signals.restore()
    assert signal.getsignal(signum) == before


def test_a_child_is_stopped_and_reaped(tmp_path: Path) -> None:
    child = Child(
        "sleeper",
        [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"],
        tmp_path / "log",
    )
    child.start()
    assert child.pid is not None
    ident = processes.identify(child.pid)
    child.check_alive()
    child.stop()
    assert child.exited() is not None
    assert not processes.is_running(ident)


def test_a_child_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('up', flush=True); time.sleep(60)"
    )
    child = Child("stubborn", [sys.executable, "-c", code], tmp_path / "log", stop_timeout=0.5)
    child.start()
    deadline = time.monotonic() + 10
    while "up" not in (tmp_path / "log").read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    child.stop()
    assert child.exited() == -signal.SIGKILL


def test_a_child_that_dies_early_is_reported_with_its_log(tmp_path: Path) -> None:
    child = Child(
        "operator",
        [sys.executable, "-c", "print('boom: no kubeconfig'); raise SystemExit(3)"],
        tmp_path / "log",
    )
    child.start()
    with pytest.raises(SupervisionError, match=r"(?s)exited with code 3.*boom: no kubeconfig"):
        child.wait_http_ok("http://127.0.0.1:9/healthz", timeout=10)


def test_http_ok_is_false_when_nothing_listens() -> None:
    port = processes.free_port()
    assert http_ok(f"http://127.0.0.1:{port}/healthz") is False


def test_the_approve_command_quotes_the_url_and_targets_the_emulator() -> None:
    url = "http://127.0.0.1:4321/v3/connect/auth?client_id=a&state=x y"
    command = messages.approve_command(url)
    assert command == (
        'curl -sL -d decision=approve "http://127.0.0.1:4321$(curl -s '
        "'http://127.0.0.1:4321/v3/connect/auth?client_id=a&state=x y' "
        "| grep -o '/_emulator/consent/tickets/[0-9a-f]*' | head -n 1)\""
    )


def test_messages_announce_the_real_and_the_sandbox_delay() -> None:
    assert messages.scope_cache(30).startswith(
        "Microsoft caches scopes for 5 minutes in real life; the sandbox uses 30s"
    )
    assert "all 3 grants are Ready" in messages.all_ready(3, exiting=True)
    assert "the grant is Ready" in messages.all_ready(1, exiting=False)


def test_temp_dirs_of_killed_sandboxes_are_reaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nylas_operator.sandbox import command

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_id = processes.identify(dead.pid)
    dead.wait()
    me = processes.identify(os.getpid())
    for name, owner in (("dead", dead_id), ("alive", me)):
        root = tmp_path / f"{command.TEMP_PREFIX}{name}"
        root.mkdir()
        (root / command.OWNER_FILE).write_text(f"{owner.pid} {owner.start_time}\n")
    (tmp_path / f"{command.TEMP_PREFIX}starting").mkdir()  # no owner file yet: left alone

    command.reap_stale_roots()

    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"{command.TEMP_PREFIX}alive",
        f"{command.TEMP_PREFIX}starting",
    ]
