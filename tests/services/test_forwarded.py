"""services.forwarded: whose X-Forwarded-For is believed, and which hop of it is the client (review item 9)."""

import pytest

from services.forwarded import ForwardedHeadersMiddleware, TrustedProxies, parse_proxy_list


def test_nothing_is_trusted_by_default():
    none = TrustedProxies([])
    assert not none and not none.trusts("127.0.0.1")
    assert none.client_address("127.0.0.1", "198.51.100.7") == "127.0.0.1"


def test_the_client_is_the_rightmost_hop_that_is_not_a_trusted_proxy():
    proxies = TrustedProxies(["10.0.0.0/8", "127.0.0.1", "::1"])
    assert proxies.trusts("10.1.2.3") and proxies.trusts("::1") and not proxies.trusts("11.0.0.1")
    assert not proxies.trusts("not-an-address") and not proxies.trusts(None)
    # What the client wrote on the left is never believed; trusted hops on the right are skipped.
    assert proxies.client_address("127.0.0.1", "6.6.6.6, 198.51.100.7, 10.0.0.5") == "198.51.100.7"
    assert proxies.client_address("127.0.0.1", "10.0.0.9, 10.0.0.5") == "10.0.0.9"  # all trusted: the first
    assert proxies.client_address("127.0.0.1", " , ") == "127.0.0.1"
    assert proxies.client_address("198.51.100.1", "6.6.6.6") == "198.51.100.1"  # peer not trusted


def test_the_setting_takes_a_comma_separated_list_and_refuses_what_is_no_address():
    assert parse_proxy_list("10.0.0.0/8, 127.0.0.1,") == ["10.0.0.0/8", "127.0.0.1"]
    assert parse_proxy_list("") == []
    with pytest.raises(ValueError, match="GONGKAI_TRUSTED_PROXIES"):
        parse_proxy_list("127.0.0.1, localhost")


async def test_the_services_middleware_rewrites_client_and_scheme_only_for_a_trusted_peer():
    seen = []

    async def app(scope, receive, send):
        seen.append((scope["client"], scope["scheme"]))

    middleware = ForwardedHeadersMiddleware(app, ["127.0.0.1"])
    headers = [(b"x-forwarded-for", b"6.6.6.6, 198.51.100.7"), (b"x-forwarded-proto", b"https")]
    for peer in ("127.0.0.1", "198.51.100.1"):
        await middleware({"type": "http", "client": (peer, 5000), "scheme": "http", "headers": headers}, None, None)
    assert seen == [(("198.51.100.7", 0), "https"), (("198.51.100.1", 5000), "http")]
