"""Which URLs and addresses a source may be fetched from (pure: no DNS, no sockets)."""

from __future__ import annotations

import pytest

from srs.sources.url_policy import RefusedURL, parse, refusal, vet


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.5.5.5",
        "10.0.0.1",
        "10.255.1.2",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "100.64.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::7f00:1",
        "2002:7f00:1::1",
        "fec0::1",
    ],
)
def test_private_loopback_link_local_and_disguised_addresses_are_refused(address):
    assert refusal(address) is not None


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:93.184.216.34"]
)
def test_public_addresses_are_allowed(address):
    assert refusal(address) is None


@pytest.mark.parametrize(
    "url, message",
    [
        ("file:///etc/passwd", "Only http"),
        ("gopher://example.com/", "Only http"),
        ("ftp://example.com/x", "Only http"),
        ("http://user:pw@example.com/", "user name or password"),
        ("http:///nohost", "no host"),
        ("http://example.com:99999/", "cannot be read"),
    ],
)
def test_urls_other_than_plain_http_s_are_refused(url, message):
    with pytest.raises(RefusedURL, match=message):
        parse(url)


def test_one_private_address_among_public_ones_refuses_the_name():
    target = parse("https://example.com/a?b=1")
    assert (target.host, target.port, target.target) == ("example.com", 443, "/a?b=1")
    assert vet(target, ["93.184.216.34"], frozenset()) == "93.184.216.34"
    with pytest.raises(RefusedURL, match="loopback"):
        vet(target, ["93.184.216.34", "127.0.0.1"], frozenset())


def test_the_allowlist_lifts_the_check_for_its_names_only():
    allow = frozenset({"localhost"})
    assert vet(parse("http://localhost:8000/"), ["127.0.0.1"], allow) == "127.0.0.1"
    with pytest.raises(RefusedURL):
        vet(parse("http://127.0.0.1:8000/"), ["127.0.0.1"], allow)
