"""Credential sources (``login.py``): choice of source, reload rules, the 401 retry. Pure logic with
files and an ``httpx.MockTransport``; the real apiserver runs in tests/e2e/test_runtime_login.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import kopf
import pytest

from nylas_operator import login
from nylas_operator.login import BearerAuth, CredentialSource, in_cluster_server
from nylas_operator.runner import operator_identity


@pytest.mark.parametrize(
    ("host", "port", "server"),
    [
        ("10.96.0.1", "443", "https://10.96.0.1:443"),
        ("fd00:10:96::1", "443", "https://[fd00:10:96::1]:443"),
        ("[fd00::1]", "6443", "https://[fd00::1]:6443"),
        ("kubernetes.default.svc", "443", "https://kubernetes.default.svc:443"),
        ("10.96.0.1", "", None),
        ("", "443", None),
    ],
)
def test_in_cluster_server_like_client_go(host: str, port: str, server: str | None) -> None:
    assert in_cluster_server({"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port}) == server


def sa_dir(tmp_path: Path, token: str = "token-1") -> Path:  # noqa: S107 - a test token
    (tmp_path / "token").write_text(token + "\n")
    (tmp_path / "namespace").write_text("ops")
    return tmp_path


def test_service_account_is_chosen_only_with_both_variables_and_a_token(tmp_path: Path) -> None:
    directory = sa_dir(tmp_path)
    env = {
        "KUBERNETES_SERVICE_HOST": "::1",
        "KUBERNETES_SERVICE_PORT": "6443",
        login.SERVICE_ACCOUNT_DIR_ENV: str(directory),
    }
    assert CredentialSource.from_environment(env).describe == "service account at https://[::1]:6443"
    assert CredentialSource.from_environment({**env, "KUBERNETES_SERVICE_PORT": ""}).describe == "kubeconfig"
    (directory / "token").unlink()
    assert CredentialSource.from_environment(env).describe == "kubeconfig"


async def test_token_file_is_read_again_after_max_age_and_on_refusal(tmp_path: Path) -> None:
    directory = sa_dir(tmp_path)
    now = [0.0]
    source = CredentialSource.service_account("https://10.0.0.1:443", directory)
    source._clock = lambda: now[0]
    first = await source.current()
    assert first.token == "token-1" and first.default_namespace == "ops"
    (directory / "token").write_text("token-2")
    assert (await source.current()).token == "token-1"  # cached within a minute, like client-go
    now[0] = login.TOKEN_RELOAD_SECONDS
    assert (await source.current()).token == "token-2"
    (directory / "token").write_text("token-3")
    # A refusal of an older token than the current one does not read again; of the current one does.
    assert (await source.renew("token-1")).token == "token-2"
    assert (await source.renew("token-2")).token == "token-3"


async def test_empty_token_file_is_a_clear_error(tmp_path: Path) -> None:
    directory = sa_dir(tmp_path, token="")
    source = CredentialSource.service_account("https://10.0.0.1:443", directory)
    with pytest.raises(login.LoginError, match=r"token file .* is empty"):
        await source.current()


async def test_bearer_auth_retries_once_with_a_new_token_after_401(tmp_path: Path) -> None:
    directory = sa_dir(tmp_path, token="old")
    source = CredentialSource.service_account("https://10.0.0.1:443", directory)
    seen: list[str] = []
    valid = ["Bearer old"]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(200 if request.headers["Authorization"] in valid else 401)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=BearerAuth(source)) as http:
        assert (await http.get("https://10.0.0.1/api")).status_code == 200
        seen.clear()
        valid[:] = ["Bearer new"]  # the old token is revoked, kubelet wrote a new one
        (directory / "token").write_text("new")
        source._loaded_at = 0.0  # pretend the minute has not passed: only the 401 makes it re-read
        source._clock = lambda: 1.0
        response = await http.get("https://10.0.0.1/api")
    assert response.status_code == 200
    assert seen == ["Bearer old", "Bearer new"]


async def test_bearer_auth_does_not_loop_when_the_token_did_not_change(tmp_path: Path) -> None:
    source = CredentialSource.service_account("https://10.0.0.1:443", sa_dir(tmp_path, token="old"))
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers["Authorization"])
        return httpx.Response(401)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=BearerAuth(source)) as http:
        assert (await http.get("https://10.0.0.1/api")).status_code == 401
    assert calls == ["Bearer old"]


async def test_kopf_relogin_gets_the_new_token_or_a_distinct_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(login, "RELOGIN_WAIT_SECONDS", 0.01)
    directory = sa_dir(tmp_path, token="old")
    source = CredentialSource.service_account("https://10.0.0.1:443", directory)
    first = await source.for_kopf()
    (directory / "token").write_text("new")
    second = await source.for_kopf()  # kopf logs in again only after a refusal
    assert (first.token, second.token) == ("old", "new")
    third = await source.for_kopf()  # refused again and no new token: same token, but not equal
    assert third.token == "new" and third != second and third.expiration is not None


def test_identity_never_reads_the_passwd_database() -> None:
    assert operator_identity({"POD_NAME": "op-7d9f"}).startswith("op-7d9f_")
    assert operator_identity({"POD_NAME": "op"}) != operator_identity({"POD_NAME": "op"})
    assert operator_identity({})  # the hostname otherwise


def test_static_source_serves_kube_without_a_token() -> None:
    info = kopf.ConnectionInfo(server="http://127.0.0.1:1", insecure=True)
    assert CredentialSource.static(info).describe.endswith("http://127.0.0.1:1")


def test_the_kubernetes_package_is_not_imported_without_need() -> None:
    """kopf imports it when installed (+9 MB per process); only an exec-plugin kubeconfig needs it."""
    code = (
        "import json, sys, nylas_operator.runner, nylas_operator.login, nylas_operator.controllers.lifecycle;"
        "loaded = [m for m, v in sys.modules.items() if m.split('.')[0] == 'kubernetes' and v];"
        "print(json.dumps(sorted(loaded)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []
