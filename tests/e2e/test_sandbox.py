"""`nylas-operator dev` end to end: its own control plane, the emulator, the operator and examples/.

The sandbox runs as a subprocess exactly as `make dev` runs it. A person's part is played over HTTP:
open the printed consent URL, press Approve on the emulator's prompt page, follow the redirects to
the operator's callback. Afterwards no process the sandbox started may be left, and its temp dir
must be gone. One sandbox run per test.
"""

from __future__ import annotations

import html.parser
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from nylas_operator.devcluster import processes

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]

CONSENT_URL = re.compile(r"^\s+(http://127\.0\.0\.1:\d+/v3/connect/auth\?\S+)$")
ROOT_LINE = re.compile(r"^Starting the local control plane .* in (\S+)$")
ALL_READY = re.compile(r"^All done: .* Ready\.")
STEP_TIMEOUT = 60.0


@dataclass
class Sandbox:
    popen: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    seen: set[processes.ProcessId] = field(default_factory=set)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def pump(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def output(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def wait_line(self, pattern: re.Pattern[str], start: int = 0, timeout: float = STEP_TIMEOUT) -> int:
        """Index of the first line from ``start`` matching ``pattern``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for index in range(start, len(self.lines)):
                    if pattern.search(self.lines[index]):
                        return index
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.popen.poll() is not None:
                    pytest.fail(
                        f"no line matching {pattern.pattern!r}; output so far:\n{self.output_locked()}"
                    )
                self._cond.wait(min(remaining, 0.5))

    def root(self) -> Path:
        """The temp dir the sandbox announced."""
        return Path(self.lines[self.wait_line(ROOT_LINE)].rsplit(" in ", 1)[1])

    def output_locked(self) -> str:
        return "\n".join(self.lines)

    def note_descendants(self) -> None:
        """Remember every live descendant of the sandbox (control plane, operator, helpers)."""
        self.seen |= descendants(self.popen.pid)


def descendants(root: int) -> set[processes.ProcessId]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[processes.ProcessId] = set()
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.add(processes.identify(pid))
        todo.extend(children.get(pid, []))
    return {p for p in found if processes.is_running(p)}


@pytest.fixture
def start_sandbox() -> Iterator[Callable[..., Sandbox]]:
    started: list[Sandbox] = []

    def start(*args: str) -> Sandbox:
        popen = subprocess.Popen(
            [sys.executable, "-m", "nylas_operator.cli", "dev", "--settle-delay", "3s", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        sandbox = Sandbox(popen)
        threading.Thread(target=sandbox.pump, daemon=True).start()
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in started:  # a failed test must not leave a sandbox running either
        if sandbox.popen.poll() is None:
            sandbox.popen.send_signal(signal.SIGTERM)
            try:
                sandbox.popen.wait(60)
            except subprocess.TimeoutExpired:
                sandbox.popen.kill()
                sandbox.popen.wait(10)
        for proc in sandbox.seen:
            if processes.is_running(proc):
                processes.stop_pid(proc, 5.0)


class _Forms(html.parser.HTMLParser):
    """The forms of a page: action and hidden inputs, as a browser would submit them."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((values.get("action", ""), {}))
        elif self.forms and values.get("name") and (tag == "input" or values.get("type") == "submit"):
            # Hidden inputs, and the button a person presses (a browser sends its name and value).
            self.forms[-1][1][values["name"]] = values.get("value", "")


def approve_like_a_person(consent_url: str) -> httpx.Response:
    """GET the consent URL, submit the form whose decision is approve, follow redirects."""
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        page = browser.get(consent_url)
        assert page.status_code == 200, page.text
        parser = _Forms()
        parser.feed(page.text)
        (action, fields), *_ = [f for f in parser.forms if f[1].get("decision") == "approve"]
        return browser.post(urljoin(str(page.url), action), data=fields)


def assert_nothing_left(sandbox: Sandbox, root: Path) -> None:
    survivors = [p for p in sandbox.seen if processes.is_running(p)]
    assert survivors == [], f"processes left running: {survivors}"
    assert len(sandbox.seen) >= 4, "etcd, kube-apiserver, kube-controller-manager and the operator were seen"
    assert not root.exists(), f"temp dir {root} was not removed"


def test_sandbox_reaches_ready_after_approval_and_leaves_nothing(
    start_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = start_sandbox("--exit-when-ready", "--timeout", "90s")
    root = sandbox.root()
    sandbox.wait_line(re.compile(r"^Operator running"))
    sandbox.note_descendants()

    approved: set[str] = set()
    index = 0
    while True:
        index = sandbox.wait_line(re.compile(f"{CONSENT_URL.pattern}|{ALL_READY.pattern}"), index)
        line = sandbox.lines[index]
        index += 1
        if ALL_READY.search(line):
            break
        url = line.strip()
        sandbox.note_descendants()
        answer = approve_like_a_person(url)
        assert answer.status_code == 200, answer.text
        assert answer.url.path == "/consent/callback", "the redirects end at the operator's callback"
        approved.add(url)

    assert sandbox.popen.wait(60) == 0, sandbox.output()
    output = sandbox.output()
    assert approved, "the Microsoft example needs admin consent: a consent URL was printed and approved"
    assert "Microsoft caches scopes for 5 minutes in real life; the sandbox uses 3s" in output
    assert "export KUBECONFIG=" in output
    assert re.search(r"^\S+\s+grant\s+\S+\s+Ready\s+grant \S+ for ", output, re.M), output
    assert "Stopped; nothing left running." in output
    assert_nothing_left(sandbox, root)


def test_sigint_midway_stops_everything(start_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = start_sandbox("--no-watch")
    root = sandbox.root()
    sandbox.wait_line(CONSENT_URL)  # everything is up and waiting for a person
    sandbox.note_descendants()

    sandbox.popen.send_signal(signal.SIGINT)

    assert sandbox.popen.wait(60) == 0, sandbox.output()
    output = sandbox.output()
    assert "SIGINT received: stopping" in output
    assert "NAMESPACE/NAME" not in output, "--no-watch prints no progress rows"
    assert "Stopped; nothing left running." in output
    assert_nothing_left(sandbox, root)
