"""Which address is the client: X-Forwarded-For is believed only from trusted proxies."""

from __future__ import annotations

import pytest

from nylas_operator.consent.clientaddr import client_address, parse_proxies

PROXIES = parse_proxies(["10.0.0.0/8", "fd00::/8"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # No proxy in between: the peer, whatever the header claims.
        ("203.0.113.5", ["198.51.100.1"], "203.0.113.5"),
        # Through a trusted proxy: the entry it appended (the rightmost).
        ("10.1.2.3", ["198.51.100.1"], "198.51.100.1"),
        # The client prepended a forged address: still the rightmost untrusted one.
        ("10.1.2.3", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),
        # Two proxies in a chain, header split over two lines.
        ("10.1.2.3", ["6.6.6.6, 198.51.100.1", "10.9.9.9"], "198.51.100.1"),
        # IPv6 peer and hop; a port on a hop is dropped.
        ("fd00::1", ["[2001:db8::7]:4711"], "2001:db8::7"),
        ("10.1.2.3", ["198.51.100.1:8080"], "198.51.100.1"),
        # Nothing usable in the header: the proxy itself.
        ("10.1.2.3", [], "10.1.2.3"),
        ("10.1.2.3", ["garbage"], "10.1.2.3"),
        ("10.1.2.3", ["10.4.4.4"], "10.1.2.3"),
        (None, ["198.51.100.1"], "unknown"),
    ],
)
def test_client_address(peer: str | None, forwarded: list[str], expected: str) -> None:
    assert client_address(peer, forwarded, PROXIES) == expected


def test_without_trusted_proxies_the_header_is_never_read() -> None:
    assert client_address("10.1.2.3", ["198.51.100.1"], ()) == "10.1.2.3"


def test_parse_proxies_accepts_lists_and_commas_and_names_a_bad_entry() -> None:
    assert [str(n) for n in parse_proxies(["10.0.0.0/8, 192.0.2.7", " "])] == ["10.0.0.0/8", "192.0.2.7/32"]
    with pytest.raises(ValueError, match="'ingress'"):
        parse_proxies(["10.0.0.0/8", "ingress"])
