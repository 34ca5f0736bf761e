"""`nylas-operator cluster …`: build, start, stop and inspect a local control plane.

Owns: the command-line surface and its one-line error messages. Does not own: building, certificates
or processes (see ``build`` and ``controlplane``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from nylas_operator.devcluster import build as build_mod
from nylas_operator.devcluster import certs, controlplane

_DIR_OPTION = click.option(
    "--dir",
    "directory",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory holding the cluster's kubeconfig, certificates, data, pids and logs.",
)


def _binaries() -> build_mod.Binaries:
    try:
        return build_mod.ensure_binaries(build=True)
    except build_mod.BuildError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def cluster() -> None:
    """Build, start and stop a local control plane (etcd, kube-apiserver, kube-controller-manager)."""


@cluster.command()
def build() -> None:
    """Build the pinned binaries into the cache (or reuse them) and print their directory."""
    started = time.monotonic()
    binaries = _binaries()
    click.echo(f"kubectl: {binaries.kubectl} ({time.monotonic() - started:.1f}s)", err=True)
    click.echo(str(binaries.dir))


@cluster.command()
@_DIR_OPTION
@click.option(
    "--timeout", default=90.0, show_default=True, help="Seconds to wait until the apiserver is ready."
)
def up(directory: Path, timeout: float) -> None:
    """Start a control plane in the background and print the path of its kubeconfig once it is ready."""
    directory = directory.resolve()
    if controlplane.running_processes(directory):
        click.echo(f"already running in {directory}", err=True)
        click.echo(str(directory / controlplane.KUBECONFIG_FILE))
        return
    if not controlplane.is_usable_directory(directory):
        raise click.ClickException(f"{directory} is not empty and holds no control plane; pick an empty dir")
    controlplane.stop_detached(directory)  # leftovers of a crashed run
    plane = controlplane.ControlPlane(_binaries(), directory, detached=True, start_timeout=timeout)
    started = time.monotonic()
    try:
        plane.start()
    except (controlplane.StartError, certs.CertError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"ready at {plane.server} in {time.monotonic() - started:.1f}s; logs in {plane.logs}", err=True
    )
    click.echo(str(plane.kubeconfig))


@cluster.command()
@_DIR_OPTION
def down(directory: Path) -> None:
    """Stop the control plane started with `up --dir DIR`; no process is left. Safe to repeat."""
    stopped = controlplane.stop_detached(directory.resolve())
    click.echo(f"stopped {stopped} process(es)", err=True)


@cluster.command()
@_DIR_OPTION
def status(directory: Path) -> None:
    """Print the running components; exit 1 when nothing runs."""
    directory = directory.resolve()
    try:
        state = json.loads((directory / controlplane.STATE_FILE).read_text())
    except (OSError, ValueError):
        raise click.ClickException(f"no control plane recorded in {directory}") from None
    running = {p.pid for p in controlplane.running_processes(directory)}
    for name, proc in state.get("processes", {}).items():
        click.echo(f"{name}: pid {proc['pid']} {'running' if proc['pid'] in running else 'stopped'}")
    click.echo(f"server: {state.get('server')}")
    if not running:
        raise SystemExit(1)
