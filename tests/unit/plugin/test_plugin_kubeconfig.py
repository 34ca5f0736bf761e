"""Choosing the cluster and credentials from kubeconfig files, as kubectl does (files only, no cluster)."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from nylas_operator.plugin.client import ApiError, Client
from nylas_operator.plugin.kubeconfig import ConfigError, load


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def config(*contexts: tuple[str, str, dict[str, Any]], current: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": current,
        "clusters": [{"name": n, "cluster": {"server": f"https://{n}.example:6443"}} for n, _, _ in contexts],
        "users": [{"name": n, "user": user} for n, _, user in contexts],
        "contexts": [
            {"name": n, "context": {"cluster": n, "user": n, **({"namespace": ns} if ns else {})}}
            for n, ns, _ in contexts
        ],
    }


def test_context_namespace_and_token(tmp_path: Path) -> None:
    path = write(tmp_path / "kc", config(("a", "team-a", {"token": "tok-a"}), ("b", "", {}), current="a"))
    target = load(str(path))
    assert (target.context, target.namespace, target.info.server) == ("a", "team-a", "https://a.example:6443")
    assert target.info.as_http_headers() == {"Authorization": "Bearer tok-a"}
    other = load(str(path), "b")
    assert (other.namespace, other.info.server, other.info.as_http_headers()) == (
        "default",
        "https://b.example:6443",
        {},
    )


def test_kubeconfig_env_merges_first_wins_and_relative_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "token").write_text("from-file\n")
    first = config(("a", "", {"tokenFile": "token"}), current="a")
    first["clusters"][0]["cluster"]["certificate-authority"] = "ca.crt"
    write(tmp_path / "one" / "kc", first)
    second = config(("a", "ignored", {"token": "ignored"}), ("b", "", {"token": "b"}), current="b")
    write(tmp_path / "kc2", second)
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'one' / 'kc'}:{tmp_path / 'missing'}:{tmp_path / 'kc2'}")
    target = load()
    assert target.context == "a"  # the first file's current-context wins
    assert target.info.token == "from-file"
    assert target.info.ca_path == str(tmp_path / "one" / "ca.crt")  # relative to the file naming it
    assert load(None, "b").info.token == "b"


def test_exec_credential_plugin(tmp_path: Path) -> None:
    script = tmp_path / "cred.sh"
    status = {"token": "exec-token"}
    script.write_text(
        "#!/bin/sh\n"
        'test -n "$KUBERNETES_EXEC_INFO" || exit 7\n'
        'test "$EXTRA" = yes || exit 8\n'
        f"echo '{json.dumps({'kind': 'ExecCredential', 'status': status})}'\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": "./cred.sh",
            "env": [{"name": "EXTRA", "value": "yes"}],
        }
    }
    path = write(tmp_path / "kc", config(("a", "", user), current="a"))
    assert load(str(path)).info.token == "exec-token"
    script.write_text("#!/bin/sh\nexit 3\n")
    with pytest.raises(ConfigError, match="exited with 3"):
        load(str(path))


def test_client_certificate_data_is_passed_on(tmp_path: Path) -> None:
    pem = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n").decode()
    user = {"client-certificate-data": pem, "client-key-data": pem}
    path = write(tmp_path / "kc", config(("a", "", user), current="a"))
    info = load(str(path)).info
    assert (info.certificate_data, info.private_key_data) == (pem, pem)


@pytest.mark.parametrize(
    ("doc", "context", "message"),
    [
        (config(("a", "", {}), current=None), None, "no context"),
        (config(("a", "", {}), current="a"), "zzz", "context 'zzz' is not in the kubeconfig"),
        (
            {"contexts": [{"name": "a", "context": {"cluster": "x"}}], "current-context": "a"},
            None,
            "cluster 'x'",
        ),
    ],
)
def test_unusable_configs_say_why(
    tmp_path: Path, doc: dict[str, Any], context: str | None, message: str
) -> None:
    path = write(tmp_path / "kc", doc)
    with pytest.raises(ConfigError, match=message):
        load(str(path), context)


def test_a_named_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load(str(tmp_path / "nope"))


def test_proxy_url_of_the_cluster(tmp_path: Path) -> None:
    doc = config(("a", "", {"token": "t"}), current="a")
    doc["clusters"][0]["cluster"]["proxy-url"] = "http://proxy.internal:3128"
    assert load(str(write(tmp_path / "kc", doc))).info.proxy_url == "http://proxy.internal:3128"


def test_an_unusable_certificate_is_one_clear_error(tmp_path: Path) -> None:
    doc = config(("a", "", {"token": "t"}), current="a")
    doc["clusters"][0]["cluster"]["certificate-authority"] = "missing-ca.crt"
    with pytest.raises(ApiError, match="certificates cannot be used: FileNotFoundError"):
        Client(load(str(write(tmp_path / "kc", doc))))
