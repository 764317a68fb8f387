"""咨询 (consultations): recorded by the organ's intake clerks and handlers, counted per channel for the annual
report (consultation.recorded events feed the statistics service)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from request_service.domain import consultations
from request_service.schemas import ConsultationCreate, ConsultationRead, ConsultationSummary, term
from request_service.vocab import ConsultationChannel
from services.auth import Principal, PrincipalDep
from services.db import SessionDep
from services.errors import Unauthorized, problem_responses
from services.pagination import Page, PageParams, page_params, paged

PREFIX = "/api/v1/requests"
router = APIRouter(prefix=PREFIX, tags=["consultations"])
Year = Annotated[int, Query(ge=2000, le=2100, description="calendar year of received_on")]


async def staff(principal: PrincipalDep) -> Principal:
    if principal.is_anonymous:
        raise Unauthorized("This operation needs a bearer token.", code="authentication_required")
    return principal


StaffDep = Annotated[Principal, Depends(staff)]


def read(row) -> ConsultationRead:
    return ConsultationRead.model_validate({
        "id": row.id, "organ_code": row.organ_code, "channel": row.channel,
        "channel_label": term(ConsultationChannel(row.channel)), "received_on": row.received_on, "topic": row.topic,
        "answer": row.answer, "recorded_by": row.recorded_by, "created_at": row.created_at})


@router.post("/consultations", summary="Record a consultation (登记咨询)", status_code=status.HTTP_201_CREATED,
             response_model=ConsultationRead, responses=problem_responses(401, 403, 422))
async def create_consultation(body: ConsultationCreate, session: SessionDep, principal: StaffDep) -> ConsultationRead:
    return read(await consultations.record_consultation(session, principal, body))


@router.get("/consultations/summary", summary="Consultations per channel in a year (年度报告)",
            response_model=ConsultationSummary, responses=problem_responses(401, 403, 422))
async def get_consultation_summary(session: SessionDep, principal: StaffDep, year: Year) -> ConsultationSummary:
    return ConsultationSummary.model_validate(await consultations.consultation_summary(session, principal, year))


@router.get("/consultations", summary="The organ's consultations, newest first",
            response_model=Page[ConsultationRead], responses=problem_responses(401, 403, 422))
async def list_consultations(request: Request, response: Response, session: SessionDep, principal: StaffDep,
                             paging: Annotated[PageParams, Depends(page_params(20))],
                             year: Year | None = None, channel: ConsultationChannel | None = None) -> dict:
    rows, next_cursor = await consultations.list_consultations(session, principal, year=year, channel=channel,
                                                               cursor=paging.after, limit=paging.limit)
    return paged(request, response, [read(r) for r in rows], next_cursor)
