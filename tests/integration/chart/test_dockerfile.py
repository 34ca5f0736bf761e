"""The Dockerfile, checked statically (no Docker engine here): hadolint plus the image's rules."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    value: str


def parse(text: str) -> list[Instruction]:
    """Instructions of a Dockerfile: comments dropped, continuation lines joined."""
    out: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = " ".join((pending + line).split())
        pending = ""
        if full:
            keyword, _, value = full.partition(" ")
            out.append(Instruction(keyword.upper(), value.strip()))
    return out


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    result: list[list[Instruction]] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            result.append([])
        if result:
            result[-1].append(ins)
    return result


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse(DOCKERFILE.read_text(encoding="utf-8"))


def _args(instructions: list[Instruction]) -> dict[str, str]:
    found = {}
    for ins in instructions:
        if ins.keyword == "ARG" and "=" in ins.value:
            name, _, default = ins.value.partition("=")
            found[name] = default
    return found


def test_hadolint_is_clean() -> None:
    result = subprocess.run(
        [str(HADOLINT), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_on_a_pinned_slim_python(instructions: list[Instruction]) -> None:
    args = _args(instructions)
    froms = [ins.value for ins in instructions if ins.keyword == "FROM"]
    assert len(froms) >= 2
    for value in froms:
        image = value.split()[0]
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        name, _, tag = image.partition(":")
        assert name == "python", image
        # A full version tag (3.11.x or 3.12.x), slim, never latest.
        assert re.fullmatch(r"3\.1[12]\.\d+-slim(-\w+)?", tag), image


def test_the_final_stage_installs_only_the_wheel(instructions: list[Instruction]) -> None:
    build, final = stages(instructions)[0], stages(instructions)[-1]
    build_runs = " ".join(i.value for i in build if i.keyword == "RUN")
    assert "pip wheel" in build_runs
    final_runs = [i.value for i in final if i.keyword == "RUN"]
    installs = [r for r in final_runs if "pip install" in r]
    assert len(installs) == 1
    words = shlex.split(installs[0])
    assert "--no-index" in words  # nothing comes from a registry at this point
    assert "--no-cache-dir" in words
    assert any(w.endswith(".whl") for w in words)
    # The source tree never reaches the final stage; only the wheels, through a bind mount.
    assert not [i for i in final if i.keyword in ("COPY", "ADD")]
    assert "--mount=type=bind,from=build" in installs[0]


def test_no_compilers_or_caches_in_the_final_image(instructions: list[Instruction]) -> None:
    final = stages(instructions)[-1]
    text = " ".join(i.value for i in final)
    for forbidden in ("gcc", "build-essential", "apt-get install", "pip cache", "python3-dev"):
        assert forbidden not in text
    env = " ".join(i.value for i in final if i.keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env  # read-only root filesystem: no .pyc writes
    assert "PIP_NO_CACHE_DIR=1" in env
    assert "HOME=/tmp" in env  # the only writable place (an emptyDir in the chart)
    assert "pip uninstall" in text  # nothing installs anything at run time


def test_runs_as_a_numeric_non_root_user(instructions: list[Instruction]) -> None:
    users = [i.value for i in stages(instructions)[-1] if i.keyword == "USER"]
    assert users, "the final stage sets no USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) > 0
    assert not gid or (gid.isdigit() and int(gid) > 0)
    # The chart's runAsUser matches, so runAsNonRoot can be verified by the kubelet.
    values = (ROOT / "charts" / "nylas-operator" / "values.yaml").read_text(encoding="utf-8")
    assert f"runAsUser: {uid}" in values


def test_entrypoint_is_the_operator(instructions: list[Instruction]) -> None:
    entry = [i.value for i in instructions if i.keyword == "ENTRYPOINT"]
    assert len(entry) == 1
    assert json.loads(entry[0]) == ["nylas-operator", "run"]  # exec form: signals reach kopf


def test_dockerignore_keeps_the_context_to_the_build_inputs() -> None:
    lines = [ln for ln in (ROOT / ".dockerignore").read_text().splitlines() if ln and not ln.startswith("#")]
    assert lines[0] == "*"
    allowed = {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")}
    copied = set()
    for ins in stages(parse(DOCKERFILE.read_text(encoding="utf-8")))[0]:
        if ins.keyword == "COPY":
            copied.update(p.rstrip("/") for p in ins.value.split()[:-1] if not p.startswith("--"))
    assert copied <= allowed, copied - allowed


def test_the_parser_joins_continuations() -> None:
    parsed = parse("FROM a:1 AS b\n# c\nRUN x \\\n  # inner\n  && y\nUSER 1\n")
    assert [(i.keyword, i.value) for i in parsed] == [("FROM", "a:1 AS b"), ("RUN", "x && y"), ("USER", "1")]
