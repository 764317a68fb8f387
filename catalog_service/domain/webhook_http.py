"""Outbound side of the webhooks (推送): the SSRF guard, Standard Webhooks signatures, and one bounded HTTP attempt.

SSRF guard (reliability.md API7; OWASP: allowlist schemes, disable redirects). A subscriber chooses the address we
call, so every attempt, not just the registration:
* accepts https only (http only with CATALOG_WEBHOOK_ALLOW_HTTP, for tests), no user-info, no fragments;
* resolves the host itself and refuses it if ANY address it resolves to is loopback, private, link-local, shared
  (100.64/10), multicast, reserved, unspecified or a cloud metadata address — unless inside
  CATALOG_WEBHOOK_ALLOWED_NETWORKS — and then connects to the address it checked (resolve, then pin: a DNS answer
  that changes between the check and the connection cannot move the request); TLS still verifies the certificate
  for the host name (SNI), so pinning does not weaken https;
* never follows redirects (a 3xx is a failed attempt), ignores proxy environment variables, reads at most
  CATALOG_WEBHOOK_MAX_RESPONSE_BYTES of the answer and gives the whole attempt CATALOG_WEBHOOK_TIMEOUT_SECONDS.

Signatures (https://www.standardwebhooks.com): headers `webhook-id`, `webhook-timestamp` (Unix seconds) and
`webhook-signature` = space-separated `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`, the key being the
base64 part of the `whsec_` secret. During a rotation's overlap both secrets sign, so receivers holding either
verify.
"""

import asyncio
import base64
import functools
import hashlib
import hmac
import ipaddress
import secrets
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import httpx

from catalog_service.config import Settings

__all__ = ["Outcome", "UrlRefused", "check_url", "new_secret", "post", "sign"]

SECRET_PREFIX = "whsec_"
EXCERPT_CHARS = 500
# Cloud metadata endpoints that are not link-local (169.254.169.254 already is): Alibaba Cloud, AWS over IPv6.
METADATA_NETWORKS = tuple(ipaddress.ip_network(n) for n in ("100.100.100.200/32", "fd00:ec2::254/128"))
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: private in all but name


class UrlRefused(ValueError):
    """The address may not be called (the message says why, without echoing resolver internals)."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _allowed_networks(settings: Settings) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(n, strict=False) for n in settings.webhook_allowed_networks]


def refusal(address: str, settings: Settings) -> str | None:
    """Why this resolved address may not be called, or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback
    if any(ip in network for network in _allowed_networks(settings)):
        return None
    if ip.is_loopback:
        return "loopback address"
    if any(ip in network for network in METADATA_NETWORKS) or str(ip) == "169.254.169.254":
        return "metadata address"
    if ip.is_link_local:
        return "link-local address"
    if ip.is_private or (ip.version == 4 and ip in SHARED_ADDRESS_SPACE):
        return "private address"
    if ip.is_multicast or ip.is_reserved or ip.is_unspecified or not ip.is_global:
        return "not a public address"
    return None


@dataclass(frozen=True)
class Target:
    url: str  # as registered
    host: str
    port: int
    address: str  # the checked address the connection goes to


def check_syntax(url: str, settings: Settings) -> tuple[str, str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused("not a valid URL") from None
    schemes = ("https", "http") if settings.webhook_allow_http else ("https",)
    if parts.scheme not in schemes:
        raise UrlRefused("only https:// addresses are accepted")
    if not parts.hostname:
        raise UrlRefused("the address has no host")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UrlRefused("user information in the address is not accepted")
    if parts.fragment:
        raise UrlRefused("fragments are not accepted")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def check_url(url: str, settings: Settings) -> Target:
    """Resolve and check `url`; raises UrlRefused. Every address the name resolves to must be acceptable: a name
    with one public and one private answer would let the connection pick the private one."""
    _, host, port = check_syntax(url, settings)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UrlRefused("the host name does not resolve") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UrlRefused("the host name does not resolve")
    for address in addresses:
        reason = refusal(address, settings)
        if reason is not None:
            raise UrlRefused(f"the host resolves to a {reason}")
    return Target(url, host, port, addresses[0])


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    latency_ms: int
    error: str | None
    excerpt: str | None


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context per process (httpx's default CA bundle): a client of its own per attempt built a fresh one,
    ~49 ms of CPU per delivery attempt — most of the dispatcher's cost (scripts/bench_sync.py)."""
    return ssl.create_default_context(cafile=certifi.where())


def _pinned(target: Target) -> httpx.URL:
    """The registered URL with its host replaced by the checked address (the Host header and SNI keep the name)."""
    return httpx.URL(target.url).copy_with(host=target.address)


async def post(url: str, headers: dict[str, str], body: bytes, settings: Settings,
               transport: httpx.AsyncBaseTransport | None = None) -> Outcome:
    """One attempt: check, pin, POST, read a bounded answer. Never raises for the receiver's faults."""
    started = time.monotonic()

    def outcome(ok: bool, status: int | None, error: str | None, excerpt: str | None = None) -> Outcome:
        return Outcome(ok, status, int((time.monotonic() - started) * 1000), error, excerpt)

    try:
        target = await check_url(url, settings)
    except UrlRefused as exc:
        return outcome(False, None, f"refused: {exc}")
    default_port = 443 if url.startswith("https") else 80
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    if ":" in target.host and target.port == default_port:
        host_header = f"[{target.host}]"
    timeout = httpx.Timeout(settings.webhook_timeout_seconds, connect=settings.webhook_connect_timeout_seconds)
    try:
        async with asyncio.timeout(settings.webhook_timeout_seconds):
            async with httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False,
                                         trust_env=False, verify=_tls_context()) as client:
                request = client.build_request(
                    "POST", _pinned(target), content=body,
                    headers={**headers, "Host": host_header, "Content-Type": "application/json",
                             "User-Agent": "Gongkai-Webhooks/1"},
                    extensions={"sni_hostname": target.host})
                response = await client.send(request, stream=True)
                try:
                    received = bytearray()
                    async for chunk in response.aiter_bytes():
                        received += chunk
                        if len(received) >= settings.webhook_max_response_bytes:
                            break  # bounded: the rest is never read
                finally:
                    await response.aclose()
    except TimeoutError:
        return outcome(False, None, "timed out")
    except httpx.HTTPError as exc:
        return outcome(False, None, f"{type(exc).__name__}: {str(exc)[:200]}")
    excerpt = bytes(received[:EXCERPT_CHARS * 4]).decode("utf-8", "replace")[:EXCERPT_CHARS] or None
    status = response.status_code
    if 300 <= status < 400:
        return outcome(False, status, "redirect not followed", excerpt)
    return outcome(200 <= status < 300, status, None if 200 <= status < 300 else f"HTTP {status}", excerpt)
