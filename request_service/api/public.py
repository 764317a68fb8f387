"""The applicant's side (申请人自助): follow an application with tracking number + 查询码, or list one's own; read
and download the letters addressed to one (文书: notices and the reply, HTML or PDF) either way.

The tracking-number doors are POSTs: the 查询码 travels in the body, never in a URL (URLs end up in access logs,
browser history and Referer headers). Every one of them goes through the same `track` (the same brute-force count
and lock), so trying codes on the letter downloads is no cheaper than on the tracking view.

Read replicas (只读副本): the signed-in applicant's reads (their list, their letters) go to a replica when one may
answer (services/replicas.py; with the `X-Gongkai-Commit-LSN` of their submission sent back as `X-Gongkai-Min-LSN`
they see it at once). The tracking doors stay on the primary: each one locks the number's failure row (FOR UPDATE)
and commits a failed attempt, and the lock must be judged on the primary's count, not a lagging copy of it.

`mine_router` holds GET /applications/mine and the signed-in applicant's letters. It must be matched before the
staff route GET /applications/{application_id} (routes match in order, and "mine" would be taken for an id), so app.py
includes it ahead of the service's main router.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from request_service.api.letters import letter_html, letter_pdf
from request_service.domain import tracking
from request_service.errors import LookupLocked
from request_service.models import Application
from request_service.schemas import ApplicantApplicationRead, LetterSummary, TrackQuery
from services.auth import PrincipalDep
from services.db import SessionDep
from services.errors import problem_response, problem_responses
from services.pagination import Page, PageParams, ShortListPaging, page_of, page_params, paged
from services.replicas import ReplicaSessionDep

PREFIX = "/api/v1/requests"
router = APIRouter(prefix=PREFIX, tags=["applicant"])
mine_router = APIRouter(prefix=PREFIX, tags=["applicant"])


async def get_settings(request: Request) -> Any:  # async: no thread-pool hop (services/db.py)
    return request.state.settings


SettingsDep = Annotated[Any, Depends(get_settings)]


async def _tracked(body: TrackQuery, request: Request, session: SessionDep,
                   settings: SettingsDep) -> Application | JSONResponse:
    """The application of a tracking number + 查询码, or the answer to a failed look-up. Every tracking door calls
    this one function: one failure count, one lock."""
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
    return app


TRACK_DESCRIPTION = ("A wrong tracking number and a wrong query code give the same 404. After 5 failures in 15 "
                     "minutes the tracking number is locked for 15 minutes (429, Retry-After), on every tracking "
                     "door alike (the view and the letters).")
LETTER_CONTENT = {"text/html": {}}
PDF_CONTENT = {"application/pdf": {}}


@router.post("/track", summary="Follow an application (申请进度查询) with its tracking number and 查询码",
             response_model=ApplicantApplicationRead, responses=problem_responses(404, 422, 429),
             description=TRACK_DESCRIPTION)
async def track_application(body: TrackQuery, request: Request, session: SessionDep, principal: PrincipalDep,
                            settings: SettingsDep) -> ApplicantApplicationRead | JSONResponse:
    app = await _tracked(body, request, session, settings)
    if isinstance(app, JSONResponse):
        return app
    return await tracking.applicant_view(session, app, principal)


@router.post("/track/letters", summary="The letters sent to the applicant (文书列表), by tracking number and 查询码",
             response_model=Page[LetterSummary], responses=problem_responses(404, 422, 429),
             description=f"Notices and the signed-off reply, oldest first. {TRACK_DESCRIPTION}")
async def track_letters(body: TrackQuery, request: Request, response: Response, session: SessionDep,
                        settings: SettingsDep, paging: ShortListPaging) -> dict | JSONResponse:
    app = await _tracked(body, request, session, settings)
    if isinstance(app, JSONResponse):
        return app
    return _letter_page(request, response, await tracking.applicant_letters(session, app), paging)


# Registered before the HTML route: "{letter_id}" alone would also match "<id>.pdf".
@router.post("/track/letters/{letter_id}.pdf", summary="A letter sent to the applicant, as PDF (by 查询码)",
             response_class=Response, description=TRACK_DESCRIPTION,
             responses={200: {"content": PDF_CONTENT}, **problem_responses(404, 422, 429)})
async def track_letter_pdf(letter_id: str, body: TrackQuery, request: Request, session: SessionDep,
                           settings: SettingsDep) -> Response:
    app = await _tracked(body, request, session, settings)
    if isinstance(app, JSONResponse):
        return app
    return await letter_pdf(app, await tracking.applicant_letter(session, app, letter_id))


@router.post("/track/letters/{letter_id}", summary="A letter sent to the applicant, as issued (HTML, by 查询码)",
             response_class=HTMLResponse, description=TRACK_DESCRIPTION,
             responses={200: {"content": LETTER_CONTENT}, **problem_responses(404, 422, 429)})
async def track_letter_html(letter_id: str, body: TrackQuery, request: Request, session: SessionDep,
                            settings: SettingsDep) -> Response:
    app = await _tracked(body, request, session, settings)
    if isinstance(app, JSONResponse):
        return app
    return letter_html(await tracking.applicant_letter(session, app, letter_id))


def _letter_page(request: Request, response: Response, letters: list[Any], paging: PageParams) -> dict:
    # An application has a handful of letters: paged in memory, with the exact total.
    return page_of(request, response, [LetterSummary.model_validate(tracking.letter_summary(letter))
                                       for letter in letters], paging, key=lambda letter: letter.id)


@mine_router.get("/applications/mine", summary="My applications (我的申请), newest first",
                 response_model=Page[ApplicantApplicationRead], responses=problem_responses(401, 403, 422))
async def list_my_applications(request: Request, response: Response, session: ReplicaSessionDep,
                               principal: PrincipalDep,
                               paging: Annotated[PageParams, Depends(page_params(20))]) -> dict:
    items, next_cursor = await tracking.list_mine(session, principal, paging.after, paging.limit)
    return paged(request, response, items, next_cursor)


MINE = "/applications/mine/{application_id}/letters"


@mine_router.get(MINE, summary="The letters sent to me on one of my applications (我的文书)",
                 response_model=Page[LetterSummary], responses=problem_responses(401, 403, 404),
                 description="Another applicant's application answers 404, exactly as an id that does not exist.")
async def list_my_letters(application_id: str, request: Request, response: Response, session: ReplicaSessionDep,
                          principal: PrincipalDep, paging: ShortListPaging) -> dict:
    app = await tracking.own_application(session, principal, application_id)
    return _letter_page(request, response, await tracking.applicant_letters(session, app), paging)


@mine_router.get(MINE + "/{letter_id}.pdf", summary="One of my letters as PDF", response_class=Response,
                 responses={200: {"content": PDF_CONTENT}, **problem_responses(401, 403, 404)})
async def get_my_letter_pdf(application_id: str, letter_id: str, session: ReplicaSessionDep,
                            principal: PrincipalDep) -> Response:
    app = await tracking.own_application(session, principal, application_id)
    return await letter_pdf(app, await tracking.applicant_letter(session, app, letter_id))


@mine_router.get(MINE + "/{letter_id}", summary="One of my letters as issued (HTML)", response_class=HTMLResponse,
                 responses={200: {"content": LETTER_CONTENT}, **problem_responses(401, 403, 404)})
async def get_my_letter_html(application_id: str, letter_id: str, session: ReplicaSessionDep,
                             principal: PrincipalDep) -> Response:
    app = await tracking.own_application(session, principal, application_id)
    return letter_html(await tracking.applicant_letter(session, app, letter_id))
