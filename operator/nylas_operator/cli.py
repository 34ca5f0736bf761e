"""The `nylas-operator` command line.

Every sub-command lives next to the code it drives and is imported only when it is
invoked, so `nylas-operator version` stays fast and the product code never imports the
emulator or the dev cluster (only this module names them).
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from nylas_operator import buildinfo

# name -> "module:attribute" of a click command; loaded on first use.
_LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("nylas_operator.runner:run", "Run the operator against the current kubeconfig."),
    "consent-server": (
        "nylas_operator.consentserver:consent_server",
        "Serve the public consent callback as its own process (no Secret access).",
    ),
    "crds": ("nylas_operator.api.crds:crds_command", "Print the CustomResourceDefinitions as YAML."),
    "emulator": ("nylas_operator.emulator.cli:emulator", "Run the Nylas v3 API emulator."),
    "cluster": ("nylas_operator.devcluster.cli:cluster", "Start or stop a local control plane."),
    "dev": ("nylas_operator.sandbox:dev", "Run the local sandbox: cluster, emulator, operator, examples."),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *_LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _LAZY_COMMANDS:
            target, _ = _LAZY_COMMANDS[cmd_name]
            module_name, attr = target.split(":")
            command: Any = getattr(importlib.import_module(module_name), attr)
            if not isinstance(command, click.Command):
                raise TypeError(f"{target} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Show the help lines without importing every sub-command.
        rows = [(name, help_) for name, (_, help_) in _LAZY_COMMANDS.items()]
        rows += [(n, c.get_short_help_str()) for n, c in self.commands.items()]
        with formatter.section("Commands"):
            formatter.write_dl(sorted(rows))


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Manage Nylas bulk authentication grants as Kubernetes objects."""


@main.command()
def version() -> None:
    """Print the operator's version and the git commit it was built from."""
    click.echo(f"nylas-operator {buildinfo.version()} (commit {buildinfo.git_commit()})")


if __name__ == "__main__":  # pragma: no cover
    main()
