"""The allow-list of Nylas API hosts: defaults, syntax, the refusal message."""

from __future__ import annotations

import pytest

from nylas_operator.nylas.hosts import DEFAULT, api_host_refusal, parse_allowed_hosts


@pytest.mark.parametrize(
    "url",
    [
        "https://api.us.nylas.com",
        "https://api.eu.nylas.com/",
        "https://API.US.NYLAS.COM",
        "http://127.0.0.1:8787",
        "http://127.9.9.9",
        "http://[::1]:8080",
        "http://localhost:9000",
    ],
)
def test_the_default_allows_the_nylas_regions_and_loopback(url: str) -> None:
    assert api_host_refusal(url, DEFAULT) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://attacker.example",
        "https://api.us.nylas.com.attacker.example",
        "https://nylas.com",
        "http://10.0.0.5",
        "http://[fe80::1]",
        "https://169.254.169.254",  # cloud metadata
        "http://localhost.attacker.example",
    ],
)
def test_the_default_refuses_anything_else(url: str) -> None:
    refusal = api_host_refusal(url, DEFAULT)
    assert refusal is not None and "nothing was sent" in refusal


def test_wildcards_cidrs_and_names() -> None:
    allowed = parse_allowed_hosts(["*.nylas.example, 10.0.0.0/8", "proxy.internal"])
    assert api_host_refusal("https://api.nylas.example", allowed) is None
    assert api_host_refusal("https://a.b.nylas.example", allowed) is None
    assert api_host_refusal("https://nylas.example", allowed) is not None  # the wildcard needs a label
    assert api_host_refusal("http://10.1.2.3:8080", allowed) is None
    assert api_host_refusal("https://proxy.internal", allowed) is None
    assert api_host_refusal("https://proxy.internal.evil", allowed) is not None


def test_the_message_names_the_host_and_the_setting() -> None:
    refusal = api_host_refusal("https://evil.example:444/v3", parse_allowed_hosts(["api.us.nylas.com"]))
    assert refusal is not None
    assert "'evil.example'" in refusal and "api.us.nylas.com" in refusal
    assert "--nylas-allowed-hosts" in refusal


def test_no_list_means_no_check() -> None:
    assert api_host_refusal("https://anything.example", None) is None


@pytest.mark.parametrize("bad", ["https://api.us.nylas.com", "a b", "*.", "exa_mple..com", ""])
def test_bad_entries_are_named(bad: str) -> None:
    with pytest.raises(ValueError, match=r"not a host name|is empty"):
        parse_allowed_hosts([bad])
