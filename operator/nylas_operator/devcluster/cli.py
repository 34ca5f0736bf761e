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
from nylas_operator.devcluster import certs, controlplane, images
from nylas_operator.devcluster import node as node_mod

_DIR_OPTION = click.option(
    "--dir",
    "directory",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory holding the cluster's kubeconfig, certificates, data, pids and logs.",
)


_WITH_NODE = click.option(
    "--with-node",
    is_flag=True,
    help="Also a node: containerd, kubelet and kube-scheduler (root, Linux; host-network Pods only).",
)


def _binaries() -> build_mod.Binaries:
    try:
        return build_mod.ensure_binaries(build=True)
    except build_mod.BuildError as exc:
        raise click.ClickException(str(exc)) from None


def _node_binaries() -> build_mod.NodeBinaries:
    try:
        return build_mod.ensure_node_binaries(build=True)
    except build_mod.BuildError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def cluster() -> None:
    """Build, start and stop a local control plane (etcd, kube-apiserver, kube-controller-manager)."""


@cluster.command()
@_WITH_NODE
def build(with_node: bool) -> None:
    """Build the pinned binaries into the cache (or reuse them) and print their directory."""
    started = time.monotonic()
    binaries = _binaries()
    if with_node:
        _node_binaries()
    click.echo(f"kubectl: {binaries.kubectl} ({time.monotonic() - started:.1f}s)", err=True)
    click.echo(str(binaries.dir))


@cluster.command()
@_DIR_OPTION
@click.option(
    "--timeout", default=90.0, show_default=True, help="Seconds to wait until the apiserver is ready."
)
@_WITH_NODE
def up(directory: Path, timeout: float, with_node: bool) -> None:
    """Start a control plane in the background and print the path of its kubeconfig once it is ready."""
    directory = directory.resolve()
    if controlplane.running_processes(directory):
        click.echo(f"already running in {directory}", err=True)
        click.echo(str(directory / controlplane.KUBECONFIG_FILE))
        return
    if not controlplane.is_usable_directory(directory):
        raise click.ClickException(f"{directory} is not empty and holds no control plane; pick an empty dir")
    controlplane.stop_detached(directory)  # leftovers of a crashed run
    node = _node_binaries() if with_node else None
    plane = controlplane.ControlPlane(_binaries(), directory, detached=True, start_timeout=timeout, node=node)
    started = time.monotonic()
    try:
        plane.start()
    except (controlplane.StartError, certs.CertError, node_mod.NodeError) as exc:
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
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Load the image into the node of the cluster started with `up --with-node --dir DIR`.",
)
@click.option("--tag", default="dev", show_default=True, help="Tag of localhost/nylas-operator.")
@click.option(
    "--context",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Build context holding the Dockerfile (the repository root).",
)
def image(directory: Path | None, tag: str, context: Path) -> None:
    """Build the Dockerfile with buildah on a stand-in Python base made from Debian packages.

    Tests only: the Dockerfile's own base (the official python slim image) is replaced by a base
    made with mmdebstrap, because Docker Hub is not reachable where this runs. Prints the reference.
    """
    started = time.monotonic()
    try:
        ref = images.build_project_image(context.resolve(), tag)
        built = time.monotonic() - started
        if directory is not None:
            layout = node_mod.NodeLayout.of(directory.resolve())
            if not layout.containerd_socket.exists():
                raise click.ClickException(f"no node runs in {directory} (start it with `up --with-node`)")
            images.load_project_image(layout.containerd_socket, ref)
    except images.ImageError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"built in {built:.1f}s, total {time.monotonic() - started:.1f}s", err=True)
    click.echo(ref)


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
