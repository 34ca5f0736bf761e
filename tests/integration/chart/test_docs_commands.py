"""The `helm install`/`helm upgrade` commands the docs show render with this chart.

Every such command in the README and docs/ is taken from its code block, its `--set` and
`--set-string` values are passed to `helm template`, and the chart (its values.schema.json, its
`required` checks) must accept them: a value the docs invent, or one the chart renamed, fails.
"""

from __future__ import annotations

import itertools
import re
import shlex
from pathlib import Path

import pytest
from chart_tools import CHART, ROOT, helm_path, run

PAGES = [ROOT / "README.md", *sorted(ROOT.glob("docs/*.md"))]
FENCE = re.compile(r"^ *```(\w*)\n(.*?)^ *```", re.DOTALL | re.MULTILINE)
SHELL = ("", "sh", "bash", "console")
SET_FLAGS = ("--set", "--set-string")


def helm_commands(page: Path) -> list[list[str]]:
    out = []
    for language, block in FENCE.findall(page.read_text()):
        if language not in SHELL:
            continue
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split(" #", 1)[0].strip()
            if re.match(r"helm (install|upgrade)\b", line) and "charts/nylas-operator" in line:
                out.append(shlex.split(line))
    return out


def values_of(command: list[str]) -> list[str]:
    args = []
    for flag, value in itertools.pairwise(command):
        if flag in SET_FLAGS:
            args += [flag, value]
    return args


COMMANDS = [
    pytest.param(cmd, id=f"{page.relative_to(ROOT)}:{i}")
    for page in PAGES
    for i, cmd in enumerate(helm_commands(page))
]


def test_the_docs_show_helm_commands() -> None:
    assert len(COMMANDS) >= 8
    pages = {str(c.id).split(":")[0] for c in COMMANDS}
    assert {"README.md", "docs/install.md", "docs/production.md", "docs/upgrade.md"} <= pages


@pytest.mark.parametrize("command", COMMANDS)
def test_documented_helm_command_renders(command: list[str]) -> None:
    result = run(
        [
            str(helm_path()),
            "template",
            "nylas-operator",
            str(CHART),
            "-n",
            "nylas-operator",
            *values_of(command),
        ],
        check=False,
    )
    assert result.returncode == 0, f"{shlex.join(command)}\n{result.stderr}"
