"""依申请转主动 (条例第四十四条, issue 16 item 5): the organ's "consider proactive disclosure" tasks, their closing,
the de-identified disclosure log and the share of grants later published — thin endpoints over
domain/proactive.py."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from request_service.api.applications import IfMatch, StaffDep
from request_service.domain import proactive
from request_service.domain.applications import today
from request_service.schemas import DisclosureLogItem, ProactiveSummary, ProactiveTaskClose, ProactiveTaskRead
from request_service.vocab import ProactiveTaskStatus
from services.concurrency import etag
from services.db import SessionDep
from services.errors import problem_responses
from services.pagination import Page, PageParams, page_params, paged

PREFIX = "/api/v1/requests"
router = APIRouter(prefix=PREFIX, tags=["proactive disclosure"])


@router.get("/worklists/proactive-disclosure", summary="依申请转主动: information to consider publishing proactively",
            response_model=Page[ProactiveTaskRead], responses=problem_responses(401, 403, 422))
async def list_proactive_tasks(
        request: Request, response: Response, session: SessionDep, principal: StaffDep,
        paging: Annotated[PageParams, Depends(page_params(50))],
        status: Annotated[ProactiveTaskStatus, Query(description="task status")] = ProactiveTaskStatus.OPEN,
        overdue: Annotated[bool, Query(description="only open tasks past their due date")] = False) -> dict:
    """Opened when REQUEST_PROACTIVE_THRESHOLD (3) different applicants asked the organ for the same information
    (same normalised 名称 and 文号) and one application was granted; due REQUEST_PROACTIVE_DUE_WORKING_DAYS working
    days later. Earliest due first."""
    items, next_cursor = await proactive.tasks(session, principal, today(), status.value, overdue, paging.after,
                                               paging.limit)
    return paged(request, response, items, next_cursor)


@router.post("/proactive-tasks/{task_id}/close", summary="Close a 依申请转主动 task: published (with the record) or "
                                                         "declined (with a reason)",
             response_model=ProactiveTaskRead, responses=problem_responses(401, 403, 404, 409, 412, 422, 428))
async def close_proactive_task(task_id: str, body: ProactiveTaskClose, session: SessionDep, principal: StaffDep,
                               response: Response, if_match: IfMatch = None) -> ProactiveTaskRead:
    task = await proactive.close_task(session, principal, task_id, body, if_match, today())
    response.headers["ETag"] = etag(task.version)
    return task


@router.get("/disclosure-log", summary="公开记录: the organ's granted applications, de-identified",
            response_model=Page[DisclosureLogItem], responses=problem_responses(401, 403, 422))
async def list_disclosure_log(request: Request, response: Response, session: SessionDep, principal: StaffDep,
                              paging: Annotated[PageParams, Depends(page_params(50))]) -> dict:
    """What was asked and granted, newest grant first, with how many asked for the same and the record that
    publishes it now — never who asked (no applicant field, no tracking number)."""
    items, next_cursor = await proactive.disclosure_log(session, principal, paging.after, paging.limit)
    return paged(request, response, items, next_cursor)


@router.get("/proactive-disclosure/summary", summary="Share of granted replies later published proactively",
            response_model=ProactiveSummary, responses=problem_responses(401, 403, 422))
async def get_proactive_summary(session: SessionDep, principal: StaffDep,
                                year: Annotated[int | None, Query(ge=2000, le=2100)] = None) -> ProactiveSummary:
    day = today()
    return ProactiveSummary.model_validate(await proactive.summary(session, principal, year or day.year, day))
