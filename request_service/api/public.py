"""The applicant's side (申请人自助): follow an application with tracking number + 查询码, or list one's own.

`mine_router` holds GET /applications/mine. It must be matched before the staff route
GET /applications/{application_id} (routes match in order, and "mine" would be taken for an id), so app.py
includes it ahead of the service's main router.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from request_service.domain import tracking
from request_service.errors import LookupLocked
from request_service.schemas import ApplicantApplicationRead, TrackQuery
from services.auth import PrincipalDep
from services.db import SessionDep
from services.errors import problem_response, problem_responses
from services.pagination import Page, PageParams, page_params, paged

PREFIX = "/api/v1/requests"
router = APIRouter(prefix=PREFIX, tags=["applicant"])
mine_router = APIRouter(prefix=PREFIX, tags=["applicant"])


async def get_settings(request: Request) -> Any:  # async: no thread-pool hop (services/db.py)
    return request.state.settings


SettingsDep = Annotated[Any, Depends(get_settings)]


@router.post("/track", summary="Follow an application (申请进度查询) with its tracking number and 查询码",
             response_model=ApplicantApplicationRead, responses=problem_responses(404, 422, 429),
             description="A wrong tracking number and a wrong query code give the same 404. After "
                         "5 failures in 15 minutes the tracking number is locked for 15 minutes (429, Retry-After).")
async def track_application(body: TrackQuery, request: Request, session: SessionDep, principal: PrincipalDep,
                            settings: SettingsDep) -> ApplicantApplicationRead | JSONResponse:
    counters = request.state.lookup_counters
    try:
        app = await tracking.track(session, body.tracking_no, body.query_code,
                                   max_failures=settings.lookup_max_failures,
                                   window_seconds=settings.lookup_window_seconds)
    except LookupLocked:
        counters.locked += 1
        raise
    if app is None:
        counters.failures += 1
        # Answered, not raised: the failure just counted must commit with this request (a raise rolls back).
        err = tracking.lookup_failed()
        return problem_response(err.status_code, err.detail, code=err.code, title=err.title, title_zh=err.title_zh,
                                instance=request.url.path)
    return await tracking.applicant_view(session, app, principal)


@mine_router.get("/applications/mine", summary="My applications (我的申请), newest first",
                 response_model=Page[ApplicantApplicationRead], responses=problem_responses(401, 403, 422))
async def list_my_applications(request: Request, response: Response, session: SessionDep, principal: PrincipalDep,
                               paging: Annotated[PageParams, Depends(page_params(20))]) -> dict:
    items, next_cursor = await tracking.list_mine(session, principal, paging.after, paging.limit)
    return paged(request, response, items, next_cursor)
