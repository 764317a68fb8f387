"""Who may read and sign which reports. Statistics staff (stats_officer, auditor) act for their organ and its
subordinates; admins everywhere; the public reads published reports only."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import Principal
from services.errors import Forbidden, Unauthorized
from stats_service.models import OrganFact

__all__ = ["READERS", "can_read_drafts", "require_scope"]

READERS = frozenset({"stats_officer", "auditor", "admin"})


async def _in_scope(session: AsyncSession, principal: Principal, organ_code: str) -> bool:
    if "admin" in principal.roles:
        return True
    if not principal.organ:
        return False
    organ = await session.get(OrganFact, organ_code)
    return organ is not None and f"/{principal.organ}/" in organ.path


async def can_read_drafts(session: AsyncSession, principal: Principal, organ_code: str) -> bool:
    return principal.has_any(READERS) and await _in_scope(session, principal, organ_code)


async def require_scope(session: AsyncSession, principal: Principal, organ_code: str, roles: set[str]) -> None:
    if principal.is_anonymous:
        raise Unauthorized("This operation needs a bearer token.", code="authentication_required")
    if not principal.has_any(roles):
        raise Forbidden(f"This needs one of the roles: {', '.join(sorted(roles))}.")
    if not await _in_scope(session, principal, organ_code):
        raise Forbidden("Only staff of this organ or a superior organ may do this.")
