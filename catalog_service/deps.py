"""Dependencies specific to the catalogue."""

from typing import Annotated

from fastapi import Depends, Header, Request

from catalog_service.config import Settings
from catalog_service.domain.calendar import WorkingCalendar
from services.auth import Principal, PrincipalDep
from services.db import SAFE_METHODS, SessionDep
from services.errors import Unauthorized


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


SettingsDep = Annotated[Settings, Depends(get_settings)]
CalendarDep = Annotated[WorkingCalendar, Depends(get_calendar)]
StaffDep = Annotated[Principal, Depends(get_staff)]
IfMatch = Annotated[str | None, Header(description="ETag of the version you read (required: 428 without it)")]
