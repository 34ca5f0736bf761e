"""The ``kubectl-nylas`` commands: status, consent-url, approve, wait.

kubectl runs ``kubectl-nylas`` for ``kubectl nylas`` and passes every argument through, so each
command takes kubectl's own ``--kubeconfig``, ``--context``, ``-n``/``--namespace`` and, where a
list makes sense, ``-A``/``--all-namespaces``. Exit codes: 0 done, 1 an error (unreachable
apiserver, not found, forbidden), 2 bad usage, 3 ``wait`` timed out, 4 ``wait`` saw a grant fail.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from nylas_operator.api.common import parse_duration
from nylas_operator.plugin import progress, render, tree
from nylas_operator.plugin.client import CONNECTORS, CREDENTIALS, GRANTS, ApiError, Client, Expired
from nylas_operator.plugin.kubeconfig import ConfigError, Target, load

F = TypeVar("F", bound=Callable[..., Any])


class Scope:
    """Where a command looks: the cluster connection and the namespace (None: all namespaces)."""

    def __init__(self, target: Target, namespace: str | None) -> None:
        self.target = target
        self.namespace = namespace


def _connection(*, lists: bool) -> Callable[[F], F]:
    """kubectl's connection flags on a command; the wrapped function gets ``scope`` first."""

    def decorate(fn: F) -> F:
        @click.option("--kubeconfig", default=None, help="Path to the kubeconfig file to use.")
        @click.option("--context", default=None, help="The kubeconfig context to use.")
        @click.option("-n", "--namespace", default=None, help="The namespace (default: the context's).")
        @functools.wraps(fn)
        def wrapper(kubeconfig: str | None, context: str | None, namespace: str | None, **kw: Any) -> Any:
            all_namespaces = bool(kw.pop("all_namespaces", False))
            try:
                target = load(kubeconfig, context)
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
            chosen = None if all_namespaces else (namespace or target.namespace)
            try:
                return fn(Scope(target, chosen), **kw)
            except ApiError as exc:
                raise click.ClickException(str(exc)) from None

        if lists:
            wrapper = click.option("-A", "--all-namespaces", is_flag=True, help="Look in every namespace.")(
                wrapper
            )
        return wrapper  # type: ignore[return-value]

    return decorate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """kubectl nylas: inspect and move along Nylas connectors, credentials and grants."""


@main.command()
@click.argument("connector", required=False)
@click.option("--not-ready", is_flag=True, help="Only objects that are not Ready (and their parents).")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_connection(lists=True)
def status(scope: Scope, connector: str | None, not_ready: bool, output: str) -> None:
    """The tree connector → credentials → grants, with phase, reason and what to do next."""
    with Client(scope.target) as client:
        roots = tree.build(
            client.list_objects(CONNECTORS, scope.namespace),
            client.list_objects(CREDENTIALS, scope.namespace),
            client.list_objects(GRANTS, scope.namespace),
        )
    if connector:
        roots = [root for root in roots if root.kind == tree.CONNECTOR and root.name == connector]
        if not roots:
            raise click.ClickException(f"NylasConnector {connector} not found in namespace {scope.namespace}")
    found = bool(roots)
    if not_ready:
        roots = tree.not_ready(roots)
    if output == "json":  # scripts get a list, empty or not
        click.echo(render.as_json(roots), nl=False)
    elif not found:
        where = "any namespace" if scope.namespace is None else f"namespace {scope.namespace}"
        click.echo(f"No Nylas objects found in {where}.", err=True)
    elif not roots:
        click.echo("Every object is Ready.", err=True)
    else:
        click.echo(render.tree(roots, all_namespaces=scope.namespace is None), nl=False)


@main.command("consent-url")
@click.argument("credential")
@_connection(lists=False)
def consent_url(scope: Scope, credential: str) -> None:
    """Print the admin-consent URL(s) a tenant administrator must open for CREDENTIAL.

    One URL per line on stdout (the default permissions first, then each custom scope set);
    what each is for goes to stderr. The URL carries a one-time state: share it only with the
    administrator.
    """
    namespace = str(scope.namespace)
    with Client(scope.target) as client:
        body = client.get(CREDENTIALS, namespace, credential)
    if body is None:
        raise click.ClickException(f"NylasCredential {credential} not found in namespace {namespace}")
    if (body.get("spec") or {}).get("type") != "adminconsent":
        raise click.ClickException(
            f"NylasCredential {credential} is of type {(body.get('spec') or {}).get('type')}: "
            "only adminconsent credentials (Microsoft) take admin consent"
        )
    records = list((body.get("status") or {}).get("consent") or [])
    pending = [r for r in records if r.get("consentUrl") and not r.get("grantedAt")]
    pending.sort(key=lambda r: (r.get("scopeSet") != "default", str(r.get("scopeSet"))))
    if not pending:
        granted = [r for r in records if r.get("grantedAt")]
        if granted:
            when = ", ".join(f"{r.get('scopeSet')} at {r.get('grantedAt')}" for r in granted)
            raise click.ClickException(f"no consent is pending for {credential}: recorded for {when}")
        raise click.ClickException(
            f"NylasCredential {credential} has no consent URL yet: "
            f"kubectl nylas status -n {namespace} shows what it waits for"
        )
    for record in pending:
        scopes = " ".join(record.get("scopes") or []) or "the application's permissions"
        expires = f", expires {record['expiresAt']}" if record.get("expiresAt") else ""
        click.echo(f"# scope set {record.get('scopeSet')}: {scopes}{expires}", err=True)
        click.echo(record["consentUrl"])


@main.command()
@click.argument("credential")
@_connection(lists=False)
def approve(scope: Scope, credential: str) -> None:
    """Record that a tenant administrator consented for CREDENTIAL outside the consent URL.

    Sets the annotation nylas-operator.io/admin-consent=granted with your own credentials, so
    your RBAC (and any admission policy on it) decides whether you may. The operator cannot
    verify an out-of-band consent: use this only after the administrator consented, e.g. in the
    Entra admin center. Grants are created after the scope-cache delay.
    """
    namespace = str(scope.namespace)
    with Client(scope.target) as client:
        body = client.get(CREDENTIALS, namespace, credential)
        if body is None:
            raise click.ClickException(f"NylasCredential {credential} not found in namespace {namespace}")
        kind = (body.get("spec") or {}).get("type")
        if kind != "adminconsent":
            raise click.ClickException(
                f"NylasCredential {credential} is of type {kind}: only adminconsent credentials take consent"
            )
        if (
            client.annotate(CREDENTIALS, namespace, credential, {tree.ADMIN_CONSENT_ANNOTATION: "granted"})
            is None
        ):
            raise click.ClickException(f"NylasCredential {credential} was deleted meanwhile")
    click.echo(f"nylascredential/{credential} annotated {tree.ADMIN_CONSENT_ANNOTATION}=granted")
    click.echo(
        f"follow the grants with: kubectl nylas wait --credential {credential} -n {namespace}", err=True
    )


@main.command()
@click.argument("grants", nargs=-1)
@click.option("--credential", default=None, help="Only the grants of this NylasCredential.")
@click.option("-l", "--selector", default=None, help="Label selector of the grants, e.g. team=sales.")
@click.option("--timeout", default="10m", show_default=True, help="Give up after this long (e.g. 90s, 1h).")
@_connection(lists=True)
def wait(
    scope: Scope,
    grants: tuple[str, ...],
    credential: str | None,
    selector: str | None,
    timeout: str,
) -> None:
    """Wait until the grants (all of the namespace, or GRANTS by name) are Ready.

    One LIST, then a WATCH of the grants (like `kubectl wait`): no polling load on the apiserver.
    Exit codes: 0 all Ready, 3 timed out, 4 a grant failed (phase Failed: it needs a spec or
    Secret change), 1 another error (none matched, forbidden, unreachable).
    """
    try:
        limit = parse_duration(timeout)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--timeout") from None
    deadline = time.monotonic() + limit.total_seconds()
    shown = _Progress(live=sys.stderr.isatty())
    with Client(scope.target) as client:
        while True:  # one LIST, then WATCHes from its version until done (again after a 410)
            items, version = client.list_with_version(GRANTS, scope.namespace, selector=selector)
            known = {_key(g): g for g in items}
            shown.judge(_selected(known, grants, credential), scope.namespace, grants, timeout)
            try:
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        shown.timed_out(timeout)
                    for event, obj in client.watch(
                        GRANTS,
                        scope.namespace,
                        resource_version=version,
                        seconds=remaining,
                        selector=selector,
                    ):
                        version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                        if event == "DELETED":
                            known.pop(_key(obj), None)
                        elif event in ("ADDED", "MODIFIED"):
                            known[_key(obj)] = obj
                        else:
                            continue  # BOOKMARK: only the version moves
                        shown.judge(_selected(known, grants, credential), scope.namespace, grants, timeout)
                        if time.monotonic() >= deadline:
                            shown.timed_out(timeout)
            except Expired:
                continue


class _Progress:
    """The progress line on stderr (rewritten in place on a terminal) and the exits of ``wait``."""

    def __init__(self, *, live: bool) -> None:
        self.live = live
        self.line = ""

    def _show(self, line: str) -> None:
        if line != self.line:
            click.echo(("\r\x1b[2K" if self.live else "") + line, nl=not self.live, err=True)
            self.line = line

    def _end_line(self) -> None:
        if self.live:
            click.echo("", err=True)

    def judge(
        self, items: list[dict[str, Any]], namespace: str | None, names: tuple[str, ...], timeout: str
    ) -> None:
        """Show where ``items`` stand; exit when all are Ready or one failed."""
        missing = sorted(set(names) - {str(g["metadata"]["name"]) for g in items})
        if missing:
            where = f"namespace {namespace}" if namespace else "the cluster"
            raise click.ClickException(f"ServiceAccountGrant {', '.join(missing)} not found in {where}")
        if not items:
            raise click.ClickException("no ServiceAccountGrant matches")
        now = progress.summarize(items)
        self._show(now.line())
        if now.done:
            self._end_line()
            sys.exit(progress.EXIT_READY)
        if now.failed:
            self._end_line()
            for name, reason, message in now.failed:
                click.echo(f"ServiceAccountGrant {name} failed: {reason}: {message}", err=True)
            sys.exit(progress.EXIT_FAILED)

    def timed_out(self, timeout: str) -> NoReturn:
        self._end_line()
        click.echo(f"timed out after {timeout}: {self.line}", err=True)
        sys.exit(progress.EXIT_TIMEOUT)


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace")), str(meta.get("name"))


def _selected(
    known: dict[tuple[str, str], dict[str, Any]], names: tuple[str, ...], credential: str | None
) -> list[dict[str, Any]]:
    out = [known[key] for key in sorted(known)]
    if names:
        out = [g for g in out if g["metadata"]["name"] in names]
    if credential:
        out = [g for g in out if ((g.get("spec") or {}).get("credentialRef") or {}).get("name") == credential]
    return out
