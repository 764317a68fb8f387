"""有效期 · validity review work-list and the register of records in force on a day (issue 16 item 3): thin
endpoints over domain/validity.py."""

import re
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BeforeValidator

from catalog_service.deps import SettingsDep, StaffDep
from catalog_service.domain import validity as domain
from catalog_service.domain.documents import today_shanghai
from catalog_service.schemas import InForceItem, ValidityReviewItem
from catalog_service.vocab import Genre
from services.db import SessionDep
from services.errors import problem_responses
from services.pagination import Page, PageParams, page_params, paged

PREFIX = "/api/v1/catalog"
router = APIRouter(prefix=PREFIX, tags=["validity"])


@router.get("/worklists/validity-review", summary="有效期 ending soon or ended: records to assess (评估提醒)",
            response_model=Page[ValidityReviewItem], responses=problem_responses(401, 403, 422))
async def list_validity_review_worklist(
        request: Request, response: Response, session: SessionDep, principal: StaffDep, settings: SettingsDep,
        paging: Annotated[PageParams, Depends(page_params(50))],
        overdue: Annotated[bool, Query(description="only those whose 有效期 has already ended")] = False) -> dict:
    """The caller's organ's public records still marked in force whose 有效期 ends within
    CATALOG_VALIDITY_REVIEW_MONTHS (6) months or has ended (国办发〔2018〕37号), earliest expiry first."""
    items, next_cursor = await domain.validity_review_worklist(
        session, principal, today_shanghai(), settings.validity_review_months, overdue, paging.after, paging.limit)
    return paged(request, response, items, next_cursor)


def _iso_day(value: object) -> object:
    """YYYY-MM-DD only: pydantic would also read a number as a Unix time (`in_force_on=0` → 1970-01-01)."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("a day as YYYY-MM-DD · 日期格式应为 YYYY-MM-DD")
    return value


@router.get("/registers/in-force", summary="现行有效 · the organ's public records in force on a day",
            response_model=Page[InForceItem], responses=problem_responses(401, 403, 422))
async def list_in_force(
        request: Request, response: Response, session: SessionDep, principal: StaffDep,
        paging: Annotated[PageParams, Depends(page_params(50))],
        in_force_on: Annotated[date | None, BeforeValidator(_iso_day),
                               Query(description="the day, YYYY-MM-DD (default today, Beijing)")] = None,
        genre: Annotated[Genre | None, Query(description="体裁分类")] = None) -> dict:
    """In force on D: 施行日期 (else 成文日期) on or before D, and neither repealed (废止日期), expired (有效期) nor
    marked repealed/expired in the record's validity history by D — right for past days."""
    items, next_cursor = await domain.in_force_register(
        session, principal, in_force_on or today_shanghai(), genre.value if genre else None, paging.after,
        paging.limit)
    return paged(request, response, items, next_cursor)
