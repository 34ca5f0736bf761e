"""The client address of a callback request, believing ``X-Forwarded-For`` only from trusted proxies.

Owns: parsing the trusted-proxy list (CIDRs) and picking the client address. An Ingress controller
appends the address it saw to ``X-Forwarded-For``; everything left of that was sent by the client
and may be forged. So the header is read only when the peer is a trusted proxy, from the right,
skipping trusted proxies, and the first address that is not one is the client. A peer that is not
trusted is the client, whatever its headers say (otherwise anyone could pick a fresh address per
request and escape the per-client rate limit).
Does not own: rate limiting (``ratelimit``) or the HTTP server (``callback``, ``guard``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

FORWARDED_FOR = "X-Forwarded-For"
MAX_HOPS = 16  # a longer chain is not a real proxy chain; only its last entries are read


def parse_proxies(values: Iterable[str]) -> tuple[Network, ...]:
    """``["10.0.0.0/8", "192.0.2.7"]`` → networks; ValueError naming the bad entry."""
    networks: list[Network] = []
    for raw in values:
        for part in raw.split(","):
            text = part.strip()
            if not text:
                continue
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                raise ValueError(f"not an IP address or CIDR: {text!r}") from None
    return tuple(networks)


def parse_address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def is_trusted(address: Address | None, proxies: Sequence[Network]) -> bool:
    return address is not None and any(address.version == n.version and address in n for n in proxies)


def client_address(peer: str | None, forwarded_for: Sequence[str], proxies: Sequence[Network]) -> str:
    """The client's address: ``peer`` unless it is a trusted proxy; then the rightmost untrusted
    entry of the ``X-Forwarded-For`` values (all header lines, in order); the peer if none is valid."""
    peer_address = parse_address(peer) if peer else None
    if peer_address is None:
        return "unknown"
    if not proxies or not is_trusted(peer_address, proxies):
        return str(peer_address)
    hops = [hop for line in forwarded_for for hop in line.split(",")][-MAX_HOPS:]
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            return str(peer_address)  # a garbled chain: fall back to the proxy itself
        if not is_trusted(address, proxies):
            return str(address)
    return str(peer_address)
