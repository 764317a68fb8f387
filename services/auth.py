"""Bearer JWT verification → Principal, and role dependencies.

Development: HS256 with a shared secret (mint_token). Production: RS256/ES256 keys from a JWKS URL
(the organ's unified identity platform, 统一身份认证). Claims: sub, name, roles, organ, aud, iss, exp.
"""

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from services.errors import Forbidden, Unauthorized
from services.settings import AuthSettings

__all__ = ["ANONYMOUS", "Principal", "PrincipalDep", "ServiceToken", "TokenVerifier", "bearer_scheme",
           "get_principal", "mint_token", "require_roles", "require_staff"]

# Documents the scheme in OpenAPI ("Authorize" in /docs); verification happens in get_principal.
bearer_scheme = HTTPBearer(auto_error=False, description="JWT issued by the identity platform (统一身份认证)")


@dataclass(frozen=True)
class Principal:
    sub: str
    name: str = ""
    roles: frozenset[str] = field(default_factory=frozenset)
    organ: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_anonymous(self) -> bool:
        return self.sub == ""

    def has_any(self, roles: Iterable[str]) -> bool:
        return not self.roles.isdisjoint(roles)


ANONYMOUS = Principal(sub="")


class TokenVerifier:
    """Verifies a bearer token; every failure is a 401 with a specific code."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300) if settings.jwks_url else None

    def _key(self, token: str) -> Any:
        if self._jwks is None:
            return self.settings.jwt_secret.get_secret_value()
        # The PyJWK itself, not its bare key: PyJWT then verifies with the key's own algorithm and refuses a token
        # whose header names another (an ES256 token naming an RSA key's kid was a TypeError, a 500, before; found
        # by tests/security/test_tokens.py).
        return self._jwks.get_signing_key_from_jwt(token)

    def verify_sync(self, token: str) -> Principal:
        try:
            key = self._key(token)
            claims = jwt.decode(
                token, key, algorithms=self.settings.algorithms, audience=self.settings.audience,
                issuer=self.settings.issuer, leeway=self.settings.leeway_seconds,
                options={"require": ["exp", "sub", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The token has expired.", code="token_expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise Unauthorized("The token is not valid yet.", code="token_not_yet_valid") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthorized("The token is for another audience.", code="token_wrong_audience") from exc
        except jwt.PyJWKClientError as exc:
            raise Unauthorized("The token's signing key is unknown.", code="token_invalid") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthorized("The token is malformed or its signature is invalid.", code="token_invalid") from exc
        if not str(claims["sub"]).strip():
            # A blank subject is a missing one: such a principal would pass for anonymous while carrying roles,
            # and every audit entry of it would name nobody (found by tests/security/test_tokens.py).
            raise Unauthorized("The token's sub claim is empty.", code="token_invalid")
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise Unauthorized("The token's roles claim must be a list of strings.", code="token_invalid")
        organ = claims.get("organ")
        if organ is not None and not isinstance(organ, str):
            raise Unauthorized("The token's organ claim must be a string.", code="token_invalid")
        return Principal(sub=str(claims["sub"]), name=str(claims.get("name", "")), roles=frozenset(roles),
                         organ=organ, claims=claims)

    async def verify(self, token: str) -> Principal:
        if self._jwks is not None:  # key fetch may do network I/O: keep it off the event loop
            return await asyncio.to_thread(self.verify_sync, token)
        return self.verify_sync(token)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` header; None when absent; 401 when malformed."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("The Authorization header must be 'Bearer <token>'.", code="token_invalid")
    return token.strip()


async def get_principal(request: Request, _: Any = Depends(bearer_scheme)) -> Principal:
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        return ANONYMOUS
    verifier: TokenVerifier = request.state.token_verifier
    return await verifier.verify(token)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: str) -> Callable[..., Any]:
    """Dependency: 401 for anonymous callers, 403 unless the principal holds one of `roles`."""
    wanted = frozenset(roles)

    async def dependency(principal: PrincipalDep) -> Principal:
        if principal.is_anonymous:
            raise Unauthorized("This operation needs a bearer token.", code="authentication_required")
        if not principal.has_any(wanted):
            raise Forbidden(f"This operation needs one of the roles: {', '.join(sorted(wanted))}.")
        return principal

    dependency.__name__ = f"require_{'_or_'.join(sorted(wanted))}"
    return dependency


def require_staff(principal: Principal) -> Principal:
    if principal.is_anonymous:
        raise Unauthorized("This operation needs a bearer token.", code="authentication_required")
    return principal


def mint_token(settings: AuthSettings, *, sub: str, roles: Iterable[str], organ: str | None = None,
               name: str = "", ttl_seconds: int = 8 * 3600, extra: dict[str, Any] | None = None) -> str:
    """An HS256 token for development and tests (the production identity platform signs its own)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub, "name": name, "roles": sorted(set(roles)), "aud": settings.audience, "iss": settings.issuer,
        "iat": now, "nbf": now, "exp": now + ttl_seconds, "jti": uuid.uuid4().hex,
    }
    if organ is not None:
        claims["organ"] = organ
    claims.update(extra or {})
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")


class ServiceToken:
    """A service's own bearer token (role `service`) for another service's internal feed, re-minted before it
    expires. `sub` names the calling service (catalog-service, request-service, stats-service)."""

    def __init__(self, auth: AuthSettings, *, sub: str, ttl_seconds: int = 900,
                 renew_before_seconds: int = 120) -> None:
        self.auth = auth
        self.sub = sub
        self.ttl = ttl_seconds
        self.renew_before = renew_before_seconds
        self._token: str | None = None
        self._expires_at = 0.0

    def get(self) -> str:
        now = time.time()
        if self._token is None or now >= self._expires_at - self.renew_before:
            self._token = mint_token(self.auth, sub=self.sub, roles=["service"], ttl_seconds=self.ttl)
            self._expires_at = now + self.ttl
        return self._token
