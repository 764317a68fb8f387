"""公开目录栏目 (catalogue columns, admin-managed; public to read) and the 解读 duty work-list (issue 16): thin
endpoints over domain/columns.py."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from catalog_service.deps import IfMatch, SettingsDep, StaffDep
from catalog_service.domain import columns as domain
from catalog_service.domain.documents import organ_of, today_shanghai
from catalog_service.schemas import (
    ColumnCreate,
    ColumnRead,
    ColumnUpdate,
    InterpretationDutyItem,
    InterpretationSummary,
)
from services.auth import Principal, require_roles
from services.concurrency import etag
from services.db import SessionDep
from services.errors import problem_responses
from services.pagination import Page, PageParams, page_params, paged

PREFIX = "/api/v1/catalog"
router = APIRouter(prefix=PREFIX, tags=["columns"])
AdminDep = Annotated[Principal, Depends(require_roles("admin"))]
_ANNOUNCED = "Announced on the event feed (column.created / column.updated) for the scorecards."


@router.get("/columns", summary="Catalogue columns (公开目录栏目) with their update rules",
            response_model=Page[ColumnRead], responses=problem_responses(422))
async def list_columns(session: SessionDep, request: Request, response: Response,
                       paging: Annotated[PageParams, Depends(page_params(50))],
                       organ: Annotated[str | None, Query(min_length=9, max_length=18, pattern="^[0-9A-Z]+$",
                                                          description="one organ's columns")] = None) -> dict:
    """Public: the structure of the disclosure catalogue (no records)."""
    items, next_cursor = await domain.list_columns(session, organ, paging.after, paging.limit)
    return paged(request, response, items, next_cursor)


@router.post("/columns", summary="Add a column to an organ's catalogue (admin)", description=_ANNOUNCED,
             status_code=status.HTTP_201_CREATED, response_model=ColumnRead,
             responses=problem_responses(401, 403, 404, 409, 422))
async def create_column(body: ColumnCreate, session: SessionDep, _: AdminDep, response: Response) -> ColumnRead:
    column = await domain.create_column(session, body)
    response.headers["ETag"] = etag(column.version)
    return column


@router.get("/columns/{column_id}", summary="One catalogue column", response_model=ColumnRead,
            responses=problem_responses(404))
async def get_column(column_id: str, session: SessionDep, response: Response) -> ColumnRead:
    column = await domain.get_column(session, column_id)
    response.headers["ETag"] = etag(column.version)
    return await domain.column_read(session, column)


@router.patch("/columns/{column_id}", summary="Change a column's rule, 备注说明 or placement rules (admin)",
              description=_ANNOUNCED, response_model=ColumnRead,
              responses=problem_responses(401, 403, 404, 409, 412, 422, 428))
async def update_column(column_id: str, body: ColumnUpdate, session: SessionDep, _: AdminDep, response: Response,
                        if_match: IfMatch = None) -> ColumnRead:
    column = await domain.update_column(session, column_id, body, if_match)
    response.headers["ETag"] = etag(column.version)
    return column


@router.get("/worklists/interpretation", summary="Published policies still without a 解读 (解读 duty)",
            response_model=Page[InterpretationDutyItem], responses=problem_responses(401, 403, 422))
async def list_interpretation_worklist(
        request: Request, response: Response, session: SessionDep, principal: StaffDep,
        paging: Annotated[PageParams, Depends(page_params(50))],
        overdue: Annotated[bool, Query(description="only those past their 解读 deadline")] = False) -> dict:
    """The caller's organ's published 行政规范性文件 and major policies that no public 解读 names yet, each with its
    deadline (CATALOG_INTERPRETATION_DUE_WORKING_DAYS working days from publication) and whether it is overdue."""
    items, next_cursor = await domain.interpretation_worklist(session, principal, today_shanghai(), overdue,
                                                              paging.after, paging.limit)
    return paged(request, response, items, next_cursor)


@router.get("/worklists/interpretation/summary", summary="解读 ratio and overdue count of the caller's organ",
            response_model=InterpretationSummary, responses=problem_responses(401, 403, 404))
async def get_interpretation_summary(session: SessionDep, principal: StaffDep,
                                     settings: SettingsDep) -> InterpretationSummary:
    organ = await organ_of(session, principal)
    today = today_shanghai()
    counts = await domain.interpretation_summary(session, principal, today)
    ratio = round(counts["interpreted"] / counts["policies"], 4) if counts["policies"] else None
    return InterpretationSummary(organ_code=organ.code, as_of=today,
                                 due_working_days=settings.interpretation_due_working_days, ratio=ratio, **counts)
