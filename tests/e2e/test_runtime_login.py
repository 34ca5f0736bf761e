"""How the operator logs in when it runs the way users run it (issue 11).

- In a Pod: as the image's uid 65532, which has no passwd entry (kopf's own identity guess used to
  die there), with the server from KUBERNETES_SERVICE_HOST/PORT and the token and CA from the
  ServiceAccount directory (no kubeconfig at all). The token in use is then invalidated (it is
  bound to a Secret that is deleted) and a new one written to the file: the same process carries on.
- From a laptop: a kubeconfig whose user is an exec plugin (as EKS/GKE/AKS write), including a new
  token from the plugin after the old one is refused.

The ServiceAccount is bound to cluster-admin here: RBAC is the chart's concern (tests/integration/chart).
"""

from __future__ import annotations

import os
import pwd
import shutil
import ssl
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from e2e import kube as k
from e2e.test_google import SCOPES, google_objects
from fixtures import leaks

pytestmark = pytest.mark.cluster

IMAGE_UID = 65532  # the Dockerfile's USER


class ServiceAccount:
    """A ServiceAccount with cluster-admin, and tokens bound to Secrets (deleting one revokes it)."""

    def __init__(
        self, kubectl: k.Kubectl, control_plane: Any, namespace: str, name: str = "nylas-operator"
    ) -> None:
        self.kubectl, self.namespace, self.name = kubectl, namespace, name
        self.server = control_plane.server
        self.tls = ssl.create_default_context(cafile=str(serving_ca(control_plane)))
        self.binding = f"{namespace}-{name}"
        kubectl("create", "serviceaccount", name, "-n", namespace)
        kubectl(
            "create",
            "clusterrolebinding",
            self.binding,
            "--clusterrole=cluster-admin",
            f"--serviceaccount={namespace}:{name}",
        )

    def token(self, bound_secret: str) -> str:
        self.kubectl("create", "secret", "generic", bound_secret, "-n", self.namespace)
        token = self.kubectl(
            "create",
            "token",
            self.name,
            "-n",
            self.namespace,
            "--bound-object-kind=Secret",
            f"--bound-object-name={bound_secret}",
            "--duration=1h",
        ).strip()
        leaks.register_value(token)  # the leak scan checks no log or object holds it
        return token

    def revoke(self, bound_secret: str, token: str) -> None:
        """Delete the Secret the token is bound to, and wait until the apiserver refuses it."""

        def refused() -> bool:  # the token alone (kubectl would also send the admin certificate)
            headers = {"Authorization": f"Bearer {token}"}
            answer = httpx.get(f"{self.server}/api", headers=headers, verify=self.tls, timeout=5)
            return answer.status_code == 401

        assert not refused(), "the token works before its Secret is deleted"
        self.kubectl("delete", "secret", bound_secret, "-n", self.namespace, "--wait=true")
        k.eventually(refused, timeout=30, what="the revoked token to be refused")

    def close(self) -> None:
        self.kubectl("delete", "clusterrolebinding", self.binding, "--ignore-not-found", check=False)


@pytest.fixture
def service_account(kubectl: k.Kubectl, control_plane: Any, namespace: str) -> Iterator[ServiceAccount]:
    account = ServiceAccount(kubectl, control_plane, namespace)
    yield account
    account.close()


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory another uid can read (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="nylas-operator-login-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def write_file(path: Path, text: str, mode: int = 0o644) -> None:
    """Replace atomically, as kubelet swaps a projected volume's files."""
    fresh = path.with_name(f".{path.name}.new")
    fresh.write_text(text)
    fresh.chmod(mode)
    os.replace(fresh, path)


def serving_ca(control_plane: Any) -> Path:
    return Path(control_plane.directory) / "pki" / "serving-ca.crt"


def grant_ready(kubectl: k.Kubectl, namespace: str, name: str, email: str) -> None:
    k.apply(kubectl, namespace, [k.grant(name, "workspace", email, scopes=SCOPES, deletionPolicy="Orphan")])
    k.wait_condition(kubectl, namespace, "serviceaccountgrant", name, "Ready", timeout=90)


def test_in_cluster_as_uid_without_passwd_entry_and_a_replaced_token(
    kubectl: k.Kubectl,
    namespace: str,
    control_plane: Any,
    emulator: Any,
    operator_factory: Callable[..., Any],
    service_account: ServiceAccount,
    shared_dir: Path,
) -> None:
    with pytest.raises(KeyError):
        pwd.getpwuid(IMAGE_UID)  # the premise: getpass.getuser() fails for this uid
    sa_dir = shared_dir / "serviceaccount"
    sa_dir.mkdir(mode=0o755)
    shutil.copy(serving_ca(control_plane), sa_dir / "ca.crt")
    (sa_dir / "ca.crt").chmod(0o644)
    write_file(sa_dir / "namespace", namespace)
    first = service_account.token("token-one")
    write_file(sa_dir / "token", first)
    port = control_plane.server.rsplit(":", 1)[1]
    operator = operator_factory(
        namespace,
        env={
            "KUBECONFIG": None,  # nothing but the in-cluster variables and files
            "KUBERNETES_SERVICE_HOST": "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": port,
            "NYLAS_OPERATOR_SERVICE_ACCOUNT_DIR": str(sa_dir),
            "HOME": "/nonexistent",
            "POD_NAME": "nylas-operator-test-pod",
        },
        user=IMAGE_UID,
    )
    k.apply(kubectl, namespace, google_objects(emulator))
    k.wait_condition(kubectl, namespace, "serviceaccountgrant", "dana", "Ready", timeout=90)
    logs = operator.logs()
    assert "service account at https://127.0.0.1:" in logs
    assert "starting as nylas-operator-test-pod_" in logs

    second = service_account.token("token-two")
    write_file(sa_dir / "token", second)
    service_account.revoke("token-one", first)
    # Grants are watched by the operator's own client (informer.py); a change of the credential
    # makes kopf write (its handled-configuration record), so kopf's client meets the refusal too.
    kubectl("annotate", "-n", namespace, "nylascredential/workspace", "e2e.example/touched=after-revoke")
    grant_ready(kubectl, namespace, "erin", "erin@acme.example")
    k.eventually(
        lambda: (
            "after-revoke"
            in str((k.get(kubectl, namespace, "nylascredential", "workspace") or {}).get("status", {}))
        ),
        timeout=60,
        what="kopf's record of the credential's new annotation (a kopf write after the revoke)",
    )

    assert operator.running and operator.starts == 1, "the operator must carry on, not restart"
    logs = operator.logs()
    assert "Re-authentication has been initiated" in logs, "kopf's requests were not refused: no test"
    assert "logged in again with new credentials from the service account" in logs
    creates = [e.email for e in emulator.journal() if e.method == "POST" and e.path == "/v3/connect/custom"]
    assert sorted(creates) == ["dana@acme.example", "erin@acme.example"]


EXEC_PLUGIN = """\
import json, sys
token_file, calls_file = sys.argv[1], sys.argv[2]
with open(calls_file, "a") as calls:
    calls.write("call\\n")
print(json.dumps({
    "apiVersion": "client.authentication.k8s.io/v1",
    "kind": "ExecCredential",
    "status": {"token": open(token_file).read().strip()},
}))
"""


def test_kubeconfig_with_an_exec_plugin(
    kubectl: k.Kubectl,
    namespace: str,
    control_plane: Any,
    emulator: Any,
    operator_factory: Callable[..., Any],
    service_account: ServiceAccount,
    shared_dir: Path,
) -> None:
    plugin = shared_dir / "exec-plugin.py"
    plugin.write_text(EXEC_PLUGIN)
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    token_file, calls = shared_dir / "token", shared_dir / "calls"
    first = service_account.token("exec-one")
    write_file(token_file, first)
    kubeconfig = shared_dir / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "c",
                        "cluster": {
                            "server": control_plane.server,
                            "certificate-authority": str(serving_ca(control_plane)),
                        },
                    }
                ],
                "users": [
                    {
                        "name": "u",
                        "user": {
                            "exec": {
                                "apiVersion": "client.authentication.k8s.io/v1",
                                "command": sys.executable,
                                "args": [str(plugin), str(token_file), str(calls)],
                                "interactiveMode": "Never",
                            }
                        },
                    }
                ],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    operator = operator_factory(namespace, env={"KUBECONFIG": str(kubeconfig)})
    k.apply(kubectl, namespace, google_objects(emulator))
    k.wait_condition(kubectl, namespace, "serviceaccountgrant", "dana", "Ready", timeout=90)
    assert calls.read_text().count("call") >= 1

    before = calls.read_text().count("call")
    second = service_account.token("exec-two")
    write_file(token_file, second)
    service_account.revoke("exec-one", first)
    grant_ready(kubectl, namespace, "erin", "erin@acme.example")
    assert operator.running and operator.starts == 1
    assert calls.read_text().count("call") > before, "the plugin was not run again after the 401"
