"""咨询 (consultations): questions about disclosure that are not applications, recorded by the organ's intake clerks
and handlers and counted per channel for the annual report. Each is published as `consultation.recorded` with
what the statistics need and nothing personal (organ, channel, date).
"""

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from request_service.domain.applications import HANDLING_ROLES
from request_service.errors import WrongRole
from request_service.models import Consultation, outbox
from request_service.schemas import ConsultationCreate
from request_service.vocab import ConsultationChannel
from services.auth import Principal
from services.db import utcnow
from services.outbox import record_event
from services.pagination import keyset_page

__all__ = ["READ_ROLES", "RECORD_ROLES", "consultation_summary", "list_consultations", "record_consultation"]

RECORD_ROLES = frozenset({"intake_clerk", "handler"})
READ_ROLES = HANDLING_ROLES | {"stats_officer"}


def _organ_of(principal: Principal, roles: frozenset[str], what: str) -> str:
    if not principal.organ or not principal.has_any(roles):
        raise WrongRole(f"{what} needs one of the roles {', '.join(sorted(roles))} of an organ.")
    return principal.organ


async def record_consultation(session: AsyncSession, principal: Principal, data: ConsultationCreate) -> Consultation:
    organ_code = _organ_of(principal, RECORD_ROLES, "Recording a consultation")
    row = Consultation(organ_code=organ_code, channel=data.channel.value, received_on=data.received_on,
                       topic=data.topic, answer=data.answer, recorded_by=principal.sub, created_at=utcnow())
    session.add(row)
    await session.flush()
    record_event(session, outbox, "consultation.recorded", entity_type="consultation", entity_id=row.id, version=1,
                 payload={"organ_code": organ_code, "channel": row.channel,
                          "received_on": row.received_on.isoformat()})
    return row


def _year(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


async def list_consultations(session: AsyncSession, principal: Principal, *, year: int | None,
                             channel: ConsultationChannel | None, cursor: str | None,
                             limit: int) -> tuple[list[Consultation], str | None]:
    organ_code = _organ_of(principal, READ_ROLES, "Reading consultations")
    stmt = select(Consultation).where(Consultation.organ_code == organ_code)
    if year is not None:
        first, last = _year(year)
        stmt = stmt.where(Consultation.received_on >= first, Consultation.received_on <= last)
    if channel is not None:
        stmt = stmt.where(Consultation.channel == channel.value)
    return await keyset_page(session, stmt, [(Consultation.received_on, True), (Consultation.id, True)],
                                   cursor, limit, key=lambda c: [c.received_on.isoformat(), c.id])


async def consultation_summary(session: AsyncSession, principal: Principal, year: int) -> dict:
    organ_code = _organ_of(principal, READ_ROLES, "Reading consultations")
    first, last = _year(year)
    rows = (await session.execute(
        select(Consultation.channel, func.count()).where(
            Consultation.organ_code == organ_code, Consultation.received_on >= first,
            Consultation.received_on <= last).group_by(Consultation.channel))).all()
    by_channel = {c.value: 0 for c in ConsultationChannel}
    for channel, n in rows:
        by_channel[channel] = by_channel.get(channel, 0) + int(n)
    return {"organ_code": organ_code, "year": year, "total": sum(by_channel.values()), "by_channel": by_channel}
