"""Dependencies specific to the catalogue."""

from typing import Annotated

from fastapi import Depends, Header, Request

from catalog_service.config import Settings
from catalog_service.domain.calendar import WorkingCalendar
from services.auth import Principal, PrincipalDep
from services.errors import Unauthorized


def get_settings(request: Request) -> Settings:
    return request.state.settings


def get_calendar(request: Request) -> WorkingCalendar:
    return request.state.calendar


async def get_staff(principal: PrincipalDep) -> Principal:
    """Any authenticated caller; role and organ checks happen in the domain, per action."""
    if principal.is_anonymous:
        raise Unauthorized("This operation needs a bearer token.", code="authentication_required")
    return principal


SettingsDep = Annotated[Settings, Depends(get_settings)]
CalendarDep = Annotated[WorkingCalendar, Depends(get_calendar)]
StaffDep = Annotated[Principal, Depends(get_staff)]
IfMatch = Annotated[str | None, Header(description="ETag of the version you read (required: 428 without it)")]
