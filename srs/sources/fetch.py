"""Fetch a web page for a source without opening an SSRF hole.

Each hop: the URL is checked (url_policy.parse), its host resolved here, every address vetted,
and the connection made to the vetted address itself, with the Host header and TLS SNI (and
certificate check) still naming the host: a DNS answer that changes between the check and the
connection (rebinding) cannot redirect us. Redirects are followed by hand, each one checked
again. The body is read up to a size cap, and the whole fetch within a deadline.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from srs.sources.url_policy import RefusedURL, Target, parse, vet

MAX_REDIRECTS = 5
REDIRECTS = {301, 302, 303, 307, 308}
USER_AGENT = "srs-source-fetcher/1.0"

Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    """Every address the host resolves to, IPv4 first (in the resolver's order otherwise)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise RefusedURL(f"{host} cannot be resolved ({error})") from None
    ordered = sorted(infos, key=lambda info: info[0] != socket.AF_INET)
    return list(dict.fromkeys(info[4][0] for info in ordered))


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    content_type: str | None
    body: bytes


class FetchError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class FetchPolicy:
    max_bytes: int
    timeout: float  # seconds for the whole fetch, redirects included
    allow_hosts: frozenset[str] = frozenset()
    resolver: Resolver = resolve


def check(url: str, policy: FetchPolicy) -> tuple[Target, str]:
    """The URL's target and the vetted address to connect to; RefusedURL otherwise."""
    target = parse(url)
    return target, vet(target, policy.resolver(target.host, target.port), policy.allow_hosts)


def _address_url(target: Target, address: str) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"{target.scheme}://{host}:{target.port}{target.target}"


def fetch(url: str, policy: FetchPolicy, transport: httpx.BaseTransport | None = None) -> Fetched:
    deadline = time.monotonic() + policy.timeout
    with httpx.Client(transport=transport, follow_redirects=False, trust_env=False) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            target, address = check(url, policy)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchError(f"Fetching took longer than {policy.timeout:g} s")
            request = client.build_request(
                "GET",
                _address_url(target, address),
                headers={
                    "Host": target.host_header,
                    "User-Agent": USER_AGENT,
                    "Accept": "text/html, application/pdf, text/plain, text/markdown, */*",
                },
                extensions={"sni_hostname": target.host},
                timeout=httpx.Timeout(remaining),
            )
            try:
                response = client.send(request, stream=True)
            except httpx.HTTPError as error:
                raise FetchError(f"{target.host} could not be fetched ({error})") from None
            try:
                if response.status_code in REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchError(f"{target.host} redirected without a Location")
                    url = urljoin(url, location)
                    continue
                if response.status_code != 200:
                    raise FetchError(f"{target.host} answered HTTP {response.status_code}")
                body = _read_capped(response, policy.max_bytes, deadline, policy.timeout)
                return Fetched(url, response.headers.get("content-type"), body)
            finally:
                response.close()
    raise FetchError(f"More than {MAX_REDIRECTS} redirects")


def _read_capped(response: httpx.Response, cap: int, deadline: float, timeout: float) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise FetchError(f"The page is larger than the {cap}-byte limit for a source")
    chunks = []
    size = 0
    try:
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > cap:
                raise FetchError(f"The page is larger than the {cap}-byte limit for a source")
            if time.monotonic() > deadline:
                raise FetchError(f"Fetching took longer than {timeout:g} s")
            chunks.append(chunk)
    except httpx.HTTPError as error:
        raise FetchError(f"The page could not be read ({error})") from None
    return b"".join(chunks)
