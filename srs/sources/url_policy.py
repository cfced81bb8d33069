"""Which URLs and addresses a source may be fetched from. Pure: no DNS, no sockets.

Only http(s), no credentials in the URL, and only public addresses: private, loopback,
link-local, unique-local, multicast, reserved and unspecified ones are refused, and so are
IPv6 addresses that carry an IPv4 one (mapped, 6to4, NAT64, Teredo) when the IPv4 one is
refused. An explicit allowlist of host names (a test and development setting) lifts the
address check for those names only.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

SCHEMES = {"http": 80, "https": 443}
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class RefusedURL(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower-case; an IPv6 literal without brackets
    port: int
    target: str  # path and query, as sent in the request line

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == SCHEMES[self.scheme] else f"{host}:{self.port}"


def parse(url: str) -> Target:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise RefusedURL(f"This URL cannot be read ({error})") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise RefusedURL("Only http:// and https:// URLs can be fetched")
    if parts.username is not None or parts.password is not None:
        raise RefusedURL("A URL with a user name or password cannot be fetched")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise RefusedURL("The URL has no host")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return Target(scheme, host, port or SCHEMES[scheme], target)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: str) -> str | None:
    """Why this resolved address may not be connected to, or None when it is public."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            reason = refusal(str(inner))
            return f"{ip} carries {reason}" if reason else None
    checks = (
        (ip.is_loopback, "a loopback address"),
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
        (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local, "a site-local address"),
        (not ip.is_global, "not a public address"),
    )
    for refused, what in checks:
        if refused:
            return f"{ip} is {what}"
    return None


def vet(target: Target, addresses: list[str], allow_hosts: frozenset[str]) -> str:
    """The address to connect to: the first one resolved, once every one is acceptable (a
    name that resolves to one private address among public ones is refused whole)."""
    if not addresses:
        raise RefusedURL(f"{target.host} does not resolve to any address")
    if target.host not in allow_hosts:
        for address in addresses:
            reason = refusal(address)
            if reason:
                raise RefusedURL(f"Refused to fetch {target.host}: {reason}")
    return addresses[0]
