"""Which hosts the operator may send a Nylas API key (and an Azure client secret) to.

Owns: the allow-list (``--nylas-allowed-hosts``, default the Nylas regions plus loopback), its
parsing, the pure check ``api_host_refusal`` and ``NylasHostNotAllowed``, which the transport
raises before anything is sent. A connector's ``apiUrl`` is chosen by whoever may write it; without
this list it could point the operator, with the key, at any host.
Does not own: the condition a refused connector shows (the connector controller calls the check).

Entries: a host name (``api.us.nylas.com``), a wildcard for subdomains (``*.nylas.example``), an
IP address or a CIDR (``10.0.0.0/8``, ``::1``). Ports are not part of an entry: any port of an
allowed host is allowed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from nylas_operator.nylas.errors import NylasError
from nylas_operator.nylas.settings import REGION_URLS

LOOPBACK = ("localhost", "127.0.0.0/8", "::1")
DEFAULT_ALLOWED_HOSTS: tuple[str, ...] = (
    *(str(urlsplit(url).hostname) for url in REGION_URLS.values()),
    *LOOPBACK,
)


@dataclass(frozen=True)
class AllowedHosts:
    names: frozenset[str]
    suffixes: tuple[str, ...]  # from "*.example.com": ".example.com"
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    text: str  # as configured, for messages

    def allows(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return host in self.names or any(host.endswith(s) and len(host) > len(s) for s in self.suffixes)
        return any(address.version == n.version and address in n for n in self.networks)


def parse_allowed_hosts(entries: Iterable[str]) -> AllowedHosts:
    """Entries (also comma-separated) → ``AllowedHosts``; ValueError naming a bad entry."""
    names: set[str] = set()
    suffixes: list[str] = []
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    kept: list[str] = []
    for raw in entries:
        for part in raw.split(","):
            entry = part.strip().lower().rstrip(".")
            if not entry:
                continue
            kept.append(entry)
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if entry.startswith("*.") and _is_hostname(entry[2:]):
                suffixes.append(entry[1:])
            elif _is_hostname(entry):
                names.add(entry)
            else:
                raise ValueError(f"not a host name, *.domain, IP address or CIDR: {entry!r}")
    if not kept:
        raise ValueError("the list of allowed Nylas API hosts is empty")
    return AllowedHosts(frozenset(names), tuple(suffixes), tuple(networks), ", ".join(kept))


def _is_hostname(text: str) -> bool:
    labels = text.split(".")
    valid = all(0 < len(label) <= 63 and label.replace("-", "").isalnum() for label in labels)
    return valid and len(text) <= 253


DEFAULT = parse_allowed_hosts(DEFAULT_ALLOWED_HOSTS)


def api_host_refusal(base_url: str, allowed: AllowedHosts | None) -> str | None:
    """None when ``base_url``'s host is allowed (or no list is set), else the reason, for a condition."""
    if allowed is None:
        return None
    host = urlsplit(base_url).hostname or ""
    if host and allowed.allows(host):
        return None
    return (
        f"the Nylas API host {host or base_url!r} is not in the operator's allowed hosts "
        f"({allowed.text}); nothing was sent to it. Ask the operator's administrator to add it "
        "(--nylas-allowed-hosts / chart value operator.nylasAllowedHosts)"
    )


class NylasHostNotAllowed(NylasError):
    """The base URL's host is not allowed: the request was not sent (not retryable)."""

    def __init__(self, *, method: str, path: str, message: str) -> None:
        self.method = method
        self.path = path
        super().__init__(f"{method} {path}: {message}")

    @property
    def request_sent(self) -> bool:
        return False
