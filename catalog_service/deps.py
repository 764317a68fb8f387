"""Dependencies specific to the catalogue."""

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.config import Settings
from catalog_service.domain.calendar import WorkingCalendar
from catalog_service.domain.visibility import is_catalog_staff, revocations_agree
from services.auth import Principal, PrincipalDep
from services.db import SAFE_METHODS, SessionDep
from services.errors import Unauthorized
from services.replicas import replica_read, replica_snapshot


def get_settings(request: Request) -> Settings:
    return request.state.settings


async def get_calendar(request: Request, session: SessionDep) -> WorkingCalendar:
    """The current calendar snapshot (cached per process; one primary-key read checks it is current). Requests that
    write take it under a shared lock so that a calendar being replaced cannot be used for a stored deadline."""
    return await request.state.calendar_cache.current(session, lock=request.method not in SAFE_METHODS)


async def get_staff(principal: PrincipalDep) -> Principal:
    """Any authenticated caller; role and organ checks happen in the domain, per action."""
    if principal.is_anonymous:
        raise Unauthorized("This operation needs a bearer token.", code="authentication_required")
    return principal


async def get_public_session(request: Request, principal: PrincipalDep) -> AsyncIterator[AsyncSession]:
    """The session of a public read (document, search, change feed, Atom): a read replica's when one may answer
    (services/replicas.py), confirmed against the primary's visibility revocations so a withdrawal is never served
    late (visibility.revocations_agree); the primary's otherwise. Catalogue staff always read the primary: they
    must see what they have just done (their drafts, their decisions)."""
    async with replica_read(request, allowed=not is_catalog_staff(principal), confirm=revocations_agree) as session:
        yield session


def public_snapshot(request: Request, principal: Principal) -> AbstractAsyncContextManager[AsyncSession]:
    """The snapshot transaction of a public export (/snapshot, /snapshot/digest): long-running and read-only, the
    ideal load for a read replica — with the same revocation confirmation as every public read, checked on the
    snapshot itself (services/replicas.replica_snapshot); the primary's snapshot otherwise."""
    return replica_snapshot(request, allowed=not is_catalog_staff(principal), confirm=revocations_agree)


SettingsDep = Annotated[Settings, Depends(get_settings)]
CalendarDep = Annotated[WorkingCalendar, Depends(get_calendar)]
StaffDep = Annotated[Principal, Depends(get_staff)]
PublicSessionDep = Annotated[AsyncSession, Depends(get_public_session, scope="function")]
IfMatch = Annotated[str | None, Header(description="ETag of the version you read (required: 428 without it)")]
