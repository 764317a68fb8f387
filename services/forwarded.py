"""Forwarded headers (X-Forwarded-For / X-Forwarded-Proto) believed only from configured proxies.

Anyone can send X-Forwarded-For. uvicorn believes it by default from 127.0.0.1, so a caller on the same host (or
behind a local reverse proxy that passes the header through) chose its own client address and so its own rate
limit bucket at the gateway (security review item 9). The processes are therefore started with uvicorn's
`--no-proxy-headers` (scripts/run_all.py, compose.yaml), and the apps themselves decide, from
GONGKAI_TRUSTED_PROXIES (可信代理, IP addresses or CIDR networks, empty by default: nothing is trusted):

* a request whose peer is not a trusted proxy is taken at its peer address, whatever it claims;
* from a trusted proxy, X-Forwarded-For is read from the right, skipping further trusted proxies: the first
  address that is not one is the client (the left part of the chain is whatever the client wrote, never believed).
"""

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any

__all__ = ["ForwardedHeadersMiddleware", "TrustedProxies", "parse_proxy_list"]


def parse_proxy_list(value: Any) -> Any:
    """GONGKAI_TRUSTED_PROXIES as a comma-separated string (or a list); each entry must be an address or network."""
    if isinstance(value, str):
        value = [part.strip() for part in value.strip().strip("[]").replace('"', "").split(",") if part.strip()]
    if isinstance(value, list | tuple):
        for entry in value:
            try:
                ip_network(str(entry), strict=False)
            except ValueError:
                raise ValueError(f"GONGKAI_TRUSTED_PROXIES: {entry!r} is not an IP address or network") from None
        return list(value)
    return value


class TrustedProxies:
    def __init__(self, entries: Iterable[str]) -> None:
        self.networks: list[IPv4Network | IPv6Network] = [ip_network(e, strict=False) for e in entries]

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, host: str | None) -> bool:
        if not self.networks or not host:
            return False
        try:
            address: IPv4Address | IPv6Address = ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def client_address(self, peer: str, forwarded_for: str | None) -> str:
        """The client's address: `peer` unless it is a trusted proxy that says otherwise."""
        if not forwarded_for or not self.trusts(peer):
            return peer
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop
        return hops[0] if hops else peer  # every hop a trusted proxy: the first of them

    def resolve(self, scope: dict[str, Any]) -> bool:
        """Put the client address and scheme a trusted proxy reports into the ASGI scope; True if it did."""
        client = scope.get("client")
        if not client or not self.trusts(client[0]):
            return False
        forwarded_for = proto = None
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                forwarded_for = value.decode("latin-1") if forwarded_for is None \
                    else f"{forwarded_for}, {value.decode('latin-1')}"
            elif name == b"x-forwarded-proto":
                proto = value.decode("latin-1").strip().lower()
        if forwarded_for:
            scope["client"] = (self.client_address(client[0], forwarded_for), 0)
        if proto in ("http", "https"):
            scope["scheme"] = proto
        return True


class ForwardedHeadersMiddleware:
    """ASGI middleware for the services: the peer's forwarded headers count only if it is a trusted proxy."""

    def __init__(self, app: Any, trusted_proxies: Iterable[str]) -> None:
        self.app = app
        self.trusted = TrustedProxies(trusted_proxies)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and self.trusted:
            scope = dict(scope)
            self.trusted.resolve(scope)
        await self.app(scope, receive, send)
