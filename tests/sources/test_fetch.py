"""SSRF: fetching a source's URL never reaches loopback, private or link-local addresses,
not directly, not by a redirect, not by a DNS answer that changes; and a fetch is capped in
size and time. Local servers on 127.0.0.1 and [::1] stand in for the internal services."""

from __future__ import annotations

import socket

import httpx
import pytest

from srs.sources.fetch import FetchError, FetchPolicy, fetch
from srs.sources.url_policy import RefusedURL
from tests.support.web_server import WebServer

HTML = b"<html><head><title>Rivers</title></head><body><h1>Nile</h1><p>Long.</p></body></html>"


def policy(**overrides) -> FetchPolicy:
    values = {"max_bytes": 100_000, "timeout": 5.0}
    values.update(overrides)
    return FetchPolicy(**values)


@pytest.fixture
def web():
    with WebServer() as server:
        server.page("/secret", b"internal admin page")
        server.page("/page", HTML)
        yield server


def _no_connection(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"a connection was attempted to {request.url}")


def test_a_server_on_127_0_0_1_is_refused_and_never_contacted(web):
    with pytest.raises(RefusedURL, match="loopback"):
        fetch(web.url("/secret"), policy())
    with pytest.raises(RefusedURL, match="loopback"):
        fetch(web.url("/secret", host="localhost"), policy())
    assert web.seen == []


@pytest.mark.parametrize(
    "url, what",
    [
        ("http://10.0.0.1/", "private"),
        ("http://10.20.30.40:8080/admin", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::ffff:169.254.169.254]/latest/meta-data/", "link-local"),
        ("http://0.0.0.0:80/", "unspecified"),
        ("http://2130706433/", "loopback"),  # 127.0.0.1 written as one number
    ],
)
def test_private_and_metadata_addresses_are_refused_before_any_connection(url, what):
    with pytest.raises(RefusedURL, match=what):
        fetch(url, policy(), transport=httpx.MockTransport(_no_connection))


def test_an_ipv6_loopback_server_is_refused():
    try:
        server = WebServer("::1")
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    with server:
        server.page("/secret", b"internal")
        with pytest.raises(RefusedURL, match="loopback"):
            fetch(server.url("/secret"), policy())
        assert server.seen == []


def test_an_allowlisted_host_is_fetched_with_its_host_header(web):
    fetched = fetch(
        web.url("/page", host="localhost"), policy(allow_hosts=frozenset({"localhost"}))
    )
    assert fetched.body == HTML and fetched.content_type == "text/html"
    assert web.seen == [("/page", f"localhost:{web.port}")]


@pytest.mark.parametrize("target", ["127.0.0.1", "169.254.169.254", "10.0.0.1", "[::1]"])
def test_a_redirect_from_an_allowed_host_to_an_internal_address_is_refused(web, target):
    port = web.port if target == "127.0.0.1" else 80
    web.redirect("/hop", f"http://{target}:{port}/secret")
    with pytest.raises(RefusedURL):
        fetch(web.url("/hop", host="localhost"), policy(allow_hosts=frozenset({"localhost"})))
    assert [path for path, _ in web.seen] == ["/hop"]


def test_redirects_within_allowed_hosts_are_followed_and_capped(web):
    web.redirect("/a", "/b")
    web.redirect("/b", "/page")
    allowed = policy(allow_hosts=frozenset({"localhost"}))
    assert fetch(web.url("/a", host="localhost"), allowed).body == HTML
    web.redirect("/loop", "/loop")
    with pytest.raises(FetchError, match="redirects"):
        fetch(web.url("/loop", host="localhost"), allowed)


def test_dns_rebinding_cannot_move_the_connection(monkeypatch):
    """The name is resolved once per hop and the connection goes to that vetted address, with
    the Host header and TLS SNI still naming the host: a second, internal answer is never used."""
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"Content-Type": "text/html"}, content=HTML)

    rebinding = policy(resolver=lambda host, port: next(answers))
    fetched = fetch(
        "https://rebind.example/page", rebinding, transport=httpx.MockTransport(handler)
    )
    assert fetched.body == HTML
    (request,) = seen
    assert request.url.host == "93.184.216.34"
    assert request.headers["host"] == "rebind.example"
    assert request.extensions["sni_hostname"] == "rebind.example"
    # The internal answer comes for the next fetch, and is refused.
    with pytest.raises(RefusedURL, match="loopback"):
        fetch("https://rebind.example/page", rebinding, transport=httpx.MockTransport(handler))


def test_size_is_capped(web):
    web.page("/big", b"x" * 5000, "text/plain")
    with pytest.raises(FetchError, match="larger than"):
        fetch(
            web.url("/big", host="localhost"),
            policy(max_bytes=1000, allow_hosts=frozenset({"localhost"})),
        )


def test_time_is_capped():
    """A server that accepts and never answers: the fetch gives up at its deadline."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    try:
        with pytest.raises(FetchError, match="could not be fetched"):
            fetch(
                f"http://localhost:{port}/",
                policy(timeout=0.5, allow_hosts=frozenset({"localhost"})),
            )
    finally:
        listener.close()
