"""The README shows the exact manifests from examples/, so the flow it teaches is the one tested."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"```yaml\n# (examples/\S+)\n(.*?)```", re.DOTALL)


def test_readme_embeds_the_example_manifests_verbatim() -> None:
    readme = (REPO / "README.md").read_text()
    blocks = BLOCK.findall(readme)
    assert {path for path, _ in blocks} == {
        "examples/01-google-service-account/nylas.yaml",
        "examples/02-microsoft-admin-consent/nylas.yaml",
    }
    for path, body in blocks:
        assert body == (REPO / path).read_text(), f"README block for {path} differs from the file"


def test_quick_start_is_exactly_two_commands() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^make (\w+)", section, flags=re.MULTILINE)
    assert commands == ["dev", "test"]
