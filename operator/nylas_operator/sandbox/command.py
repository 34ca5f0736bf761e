"""`nylas-operator dev`: the local sandbox — control plane, emulator, operator and the examples.

Owns: the order of things (control plane + CRDs, emulator, operator, examples, progress), the
directory layout of a sandbox run, and the guarantee that every exit path (success, error, Ctrl-C,
SIGTERM) stops the operator, the emulator and the control plane and removes the temp dir (unless
``--keep``). Does not own: the control plane itself (``devcluster``), the emulator, the operator
(``runner``), the substitutions (``manifests``), the progress rows (``progress``) or the texts
(``messages``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from nylas_operator.api import crds as crd_models
from nylas_operator.api.common import parse_duration
from nylas_operator.consent.callback import DEFAULT_PATH
from nylas_operator.devcluster import build, certs, controlplane, processes
from nylas_operator.emulator.config import Behaviour, EmulatorConfig
from nylas_operator.emulator.harness import RunningEmulator, run_emulator
from nylas_operator.sandbox import manifests, messages, progress
from nylas_operator.sandbox.supervisor import Child, Interrupted, Signals, SupervisionError

REPO_ROOT = Path(__file__).resolve().parents[3]
KINDS = ",".join(info.crd_name for info in crd_models.KINDS)
TEMP_PREFIX = "nylas-operator-sandbox-"
OWNER_FILE = "owner"
POLL_INTERVAL = 1.0
IDLE_POLL_INTERVAL = 2.0  # once everything is Ready, changes are rarer
OPERATOR_START_TIMEOUT = 60.0


class SandboxError(RuntimeError):
    """A step failed; the message is one line for the user (plus a log tail where it helps)."""


@dataclass(frozen=True)
class Options:
    directory: Path | None
    examples: Path
    settle_delay: str
    watch: bool
    exit_when_ready: bool
    timeout: float | None
    keep: bool
    log_level: str

    @property
    def settle_seconds(self) -> float:
        return parse_duration(self.settle_delay).total_seconds()


def _say(text: str) -> None:
    click.echo(text)


def _duration(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


@click.command("dev")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the sandbox's kubeconfig and logs in DIR (default: a temp dir removed on exit).",
)
@click.option(
    "--examples",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    envvar="NYLAS_OPERATOR_SANDBOX_EXAMPLES",
    help="Directory of examples to apply (default: the repository's examples/).",
)
@click.option(
    "--settle-delay",
    default="30s",
    show_default=True,
    callback=lambda _ctx, _param, value: _duration(value),
    help="Scope-cache delay of the emulator and the operator (Microsoft: 5m).",
)
@click.option("--no-watch", is_flag=True, help="Do not print progress rows (consent URLs are still printed).")
@click.option("--exit-when-ready", is_flag=True, help="Stop everything and exit 0 once all grants are Ready.")
@click.option(
    "--timeout",
    default=None,
    callback=lambda _ctx, _param, value: _duration(value),
    help="Give up (exit 1) if the grants are not all Ready within this time, e.g. 10m.",
)
@click.option("--keep", is_flag=True, help="Do not remove the temp dir (logs) on exit.")
@click.option("--log-level", default="INFO", show_default=True, help="The operator's log level.")
def dev(
    directory: Path | None,
    examples: Path | None,
    settle_delay: str,
    no_watch: bool,
    exit_when_ready: bool,
    timeout: str | None,
    keep: bool,
    log_level: str,
) -> None:
    """Run the local sandbox: control plane, Nylas emulator, operator and examples/, until Ctrl-C."""
    options = Options(
        directory=directory.resolve() if directory else None,
        examples=(examples or _default_examples()).resolve(),
        settle_delay=settle_delay,
        watch=not no_watch,
        exit_when_ready=exit_when_ready,
        timeout=parse_duration(timeout).total_seconds() if timeout else None,
        keep=keep,
        log_level=log_level,
    )
    sys.exit(Sandbox(options).run())


def _default_examples() -> Path:
    for candidate in (REPO_ROOT / "examples", Path.cwd() / "examples"):
        if candidate.is_dir():
            return candidate
    return REPO_ROOT / "examples"


class Sandbox:
    """One sandbox run; ``run()`` returns the exit code and has stopped everything by then."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.root = Path()
        self.plane: controlplane.ControlPlane | None = None
        self.operator: Child | None = None
        self.consent_server: Child | None = None
        self._owns_root = options.directory is None
        self._cleanup = contextlib.ExitStack()
        self._signals = Signals(on_repeat=lambda: _say("Still stopping, one moment…"))

    def run(self) -> int:
        self._signals.arm()
        code = 1
        try:
            self._start()
            code = self._watch()
        except Interrupted as exc:
            _say(f"\n{exc.args[0]} received: stopping the operator, the emulator and the control plane…")
            code = 0
        except SandboxError as exc:
            click.echo(f"Error: {exc}", err=True)
        finally:
            self._signals.shield()
            self._stop()
            self._signals.restore()
        return code

    # --- start-up ------------------------------------------------------------------------------------

    def _start(self) -> None:
        opts = self.options
        if opts.directory is None:
            reap_stale_roots()
            self.root = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
            me = processes.identify(os.getpid())
            (self.root / OWNER_FILE).write_text(f"{me.pid} {me.start_time}\n")
        else:
            self.root = opts.directory
            self.root.mkdir(parents=True, exist_ok=True)
        _say(
            f"Starting the local control plane (etcd, kube-apiserver, kube-controller-manager) in {self.root}"
        )
        plane = self._start_control_plane()
        os.environ["KUBECONFIG"] = str(plane.kubeconfig)  # the operator child inherits it
        self._install_crds(plane)

        emulator = self._start_emulator()
        _say(f"Nylas emulator at {emulator.url} (admin consent: a prompt page with Approve/Deny).")
        _say(messages.scope_cache(opts.settle_seconds))

        emulated = manifests.Emulated(
            api_url=emulator.url,
            application_id=emulator.application_id,
            api_key=emulator.api_key,
            settle_delay=opts.settle_delay,
        )
        try:
            examples = manifests.load_examples(opts.examples, emulated)
        except manifests.ExampleError as exc:
            raise SandboxError(str(exc)) from None
        namespaces = [e.namespace for e in examples]
        for namespace in namespaces:
            self._kubectl("create", "namespace", namespace)

        self._start_operator(namespaces)
        for example in examples:
            self._kubectl(
                "apply", "--server-side", "--field-manager=nylas-sandbox", "-f", "-",
                input=manifests.to_yaml(example.objects),
            )  # fmt: skip
            _say(f"Applied examples/{example.name} to namespace {example.namespace}.")
        kubectl = "kubectl" if shutil.which("kubectl") else str(plane.binaries.kubectl)
        assert self.operator is not None
        _say(messages.how_to_use(plane.kubeconfig, kubectl, namespaces, self.operator.log))

    def _start_control_plane(self) -> controlplane.ControlPlane:
        try:
            binaries = build.ensure_binaries(build=True)
        except build.BuildError as exc:
            raise SandboxError(str(exc)) from None
        plane = controlplane.ControlPlane(binaries, self.root / "cluster")
        self.plane = plane
        self._cleanup.callback(plane.stop)
        started = time.monotonic()
        try:
            plane.start()
        except (controlplane.StartError, certs.CertError) as exc:
            raise SandboxError(str(exc)) from None
        _say(f"Control plane ready at {plane.server} ({time.monotonic() - started:.0f}s).")
        return plane

    def _install_crds(self, plane: controlplane.ControlPlane) -> None:
        crds = crd_models.build_crds()
        names = [f"crd/{crd['metadata']['name']}" for crd in crds]
        rendered = crd_models.render_all(crds)
        self._kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=rendered)
        self._kubectl("wait", "--for=condition=Established", "--timeout=60s", *names, timeout=90)
        _say(f"Installed the {len(names)} CustomResourceDefinitions.")

    def _start_emulator(self) -> RunningEmulator:
        config = EmulatorConfig(
            behaviour=Behaviour(consent_mode="prompt", scope_cache_delay=self.options.settle_seconds)
        )
        return self._cleanup.enter_context(run_emulator(config))

    def _start_operator(self, namespaces: list[str]) -> None:
        callback_port, health_port, consent_health_port = processes.free_ports(3)
        namespace_args = [arg for ns in namespaces for arg in ("--namespace", ns)]
        args = [
            sys.executable, "-m", "nylas_operator.cli", "run", *namespace_args,
            # The callback runs beside the operator as its own process, as the chart installs it.
            "--callback-url", f"http://127.0.0.1:{callback_port}{DEFAULT_PATH}",
            "--health-listen", f"127.0.0.1:{health_port}",
            "--scope-cache-delay", self.options.settle_delay,
            "--log-level", self.options.log_level,
            # A sandbox should feel quick: retry failed reconciles soon (production: 5s to 5m).
            "--min-retry-delay", "1s", "--max-retry-delay", "15s",
        ]  # fmt: skip
        consent_args = [
            sys.executable, "-m", "nylas_operator.cli", "consent-server", *namespace_args,
            "--callback-listen", f"127.0.0.1:{callback_port}",
            "--health-listen", f"127.0.0.1:{consent_health_port}",
            "--scope-cache-delay", self.options.settle_delay,
            "--log-level", self.options.log_level,
        ]  # fmt: skip
        operator = Child("operator", args, self.root / "logs" / "operator.log")
        consent = Child("consent-server", consent_args, self.root / "logs" / "consent-server.log")
        self.operator = operator
        self.consent_server = consent
        self._cleanup.callback(operator.stop)
        self._cleanup.callback(consent.stop)
        consent.start()
        operator.start()
        try:
            consent.wait_http_ok(f"http://127.0.0.1:{consent_health_port}/readyz", OPERATOR_START_TIMEOUT)
            operator.wait_http_ok(f"http://127.0.0.1:{health_port}/readyz", OPERATOR_START_TIMEOUT)
        except SupervisionError as exc:
            raise SandboxError(str(exc)) from None
        _say(
            f"Operator running (pid {operator.pid}); consent server (pid {consent.pid}) "
            f"at http://127.0.0.1:{callback_port}."
        )

    # --- progress -----------------------------------------------------------------------------------

    def _watch(self) -> int:
        """Show changes until every grant is Ready; then exit (``--exit-when-ready``) or keep showing
        changes (a grant you add with kubectl is followed too) until Ctrl-C raises ``Interrupted``."""
        opts = self.options
        deadline = None if opts.timeout is None else time.monotonic() + opts.timeout
        shown: dict[progress.Key, progress.Row] = {}
        announced: set[str] = set()
        header_shown = False
        width = progress.MIN_NAME_WIDTH
        all_ready_said = False
        while True:
            assert self.operator is not None
            try:
                self.operator.check_alive()
                if self.consent_server is not None:
                    self.consent_server.check_alive()
            except SupervisionError as exc:
                raise SandboxError(str(exc)) from None
            objects = self._objects()
            now = datetime.now(UTC).astimezone()
            if opts.watch:
                rows = progress.rows(objects, now)
                fresh = progress.changed(shown, rows)
                if fresh and (not header_shown or progress.name_width(rows) > width):
                    width = max(width, progress.name_width(rows))
                    _say(progress.header(width))
                    header_shown = True
                for row in fresh:
                    _say(row.render(now, width))
                    shown[row.key] = row
            for request in progress.consent_requests(objects):
                if request.url not in announced:
                    announced.add(request.url)
                    _say(messages.consent_needed(request.namespace, request.credential, request.url))
                    header_shown = False  # the rows that follow get their header again
            ready, total = progress.grants_ready(objects)
            if total and ready == total:
                if not all_ready_said:
                    _say(messages.all_ready(total, opts.exit_when_ready))
                    all_ready_said = True
                    header_shown = False
                    deadline = None  # --timeout bounds the way to Ready, not the time after
                if opts.exit_when_ready:
                    return 0
            else:
                all_ready_said = False
                if deadline is not None and time.monotonic() > deadline:
                    click.echo(
                        f"Error: only {ready} of {total} grants Ready after {opts.timeout:g}s.", err=True
                    )
                    return 1
            time.sleep(IDLE_POLL_INTERVAL if all_ready_said else POLL_INTERVAL)

    def _objects(self) -> list[dict[str, Any]]:
        out = self._kubectl("get", KINDS, "--all-namespaces", "-o", "json")
        items: list[dict[str, Any]] = json.loads(out).get("items", [])
        return items

    def _kubectl(self, *args: str, input: str | None = None, timeout: float = 60.0) -> str:
        assert self.plane is not None
        try:
            return self.plane.kubectl(*args, input=input, timeout=timeout)
        except controlplane.KubectlError as exc:
            raise SandboxError(str(exc)) from None
        except subprocess.TimeoutExpired:
            raise SandboxError(f"kubectl {args[0]} did not answer within {timeout:g}s") from None

    # --- stop ---------------------------------------------------------------------------------------

    def _stop(self) -> None:
        """Operator, emulator, then control plane (reverse start order); then the temp dir."""
        try:
            self._cleanup.close()
        finally:
            if self._owns_root and not self.options.keep and self.root != Path():
                shutil.rmtree(self.root, ignore_errors=True)
                _say("Stopped; nothing left running.")
            elif self.root != Path():
                _say(f"Stopped; nothing left running. Logs kept in {self.root}.")


def reap_stale_roots() -> None:
    """Remove temp dirs of sandboxes that were killed (SIGKILL) before they could clean up.

    Their processes are already gone (tied to the sandbox); only the files are left.
    """
    for candidate in Path(tempfile.gettempdir()).glob(TEMP_PREFIX + "*"):
        try:
            pid, start_time = (int(v) for v in (candidate / OWNER_FILE).read_text().split())
        except (OSError, ValueError):
            continue  # still starting, or not ours
        if not processes.is_running(processes.ProcessId(pid, start_time)):
            shutil.rmtree(candidate, ignore_errors=True)
