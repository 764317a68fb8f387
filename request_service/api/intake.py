"""Intake (受理): the public online form, registration by the intake clerk, the applicant's personal data for staff,
catalogue suggestions, and the monthly per-applicant counts (第三十五条, 109号 按件计收)."""

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from request_service.clients import CatalogClient
from request_service.domain import idempotency, intake, repeats
from request_service.domain.applications import load_application
from request_service.domain.pii import UNMASK_ROLES, applicant_fields
from request_service.errors import PiiUnmaskForbidden, WrongRole
from request_service.feeds import get_catalog_client
from request_service.schemas import (
    ApplicantAccessRead,
    ApplicantMonthCount,
    ApplicantRead,
    ApplicationReceipt,
    ApplicationRegister,
    ApplicationSubmit,
    RegisterReceipt,
    SuggestionRead,
    SuggestionsRead,
)
from services.auth import Principal, PrincipalDep
from services.concurrency import etag
from services.db import SessionDep
from services.errors import AppError, Unauthorized, problem_responses
from services.pagination import Page, PageParams, ShortListPaging, page_of, page_params, paged

PREFIX = "/api/v1/requests"
router = APIRouter(prefix=PREFIX, tags=["intake"])

IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=255,
    description="Retry-safe submission: the same key and body return the first response, never a second "
                "application; the same key with another body is a 422 (kept ≥ 24 h).")]
CatalogDep = Annotated[CatalogClient, Depends(get_catalog_client)]
# Where a new application goes next (OpenAPI links: clients, and the stateful fuzz test, follow them with the real
# ids): the applicant tracks it with the tracking number and 查询码 of the receipt; the intake clerk reads it back
# and confirms receipt (双方确认) with its ETag.
_ETAG_HEADER = {"ETag": {"description": "Version of the application; send it back in If-Match",
                         "schema": {"type": "string"}}}
SUBMIT_LINKS = {"Track": {"operationId": "request-track_application", "requestBody": {
    "tracking_no": "$response.body#/tracking_no", "query_code": "$response.body#/query_code"},
    "description": "Follow the application with its tracking number and 查询码"}}
_APP_ID = {"path.application_id": "$response.body#/id"}
REGISTER_LINKS = {
    "GetApplication": {"operationId": "request-get_application", "parameters": _APP_ID},
    "GetDeadline": {"operationId": "request-get_application_deadline", "parameters": _APP_ID},
    "GetHistory": {"operationId": "request-list_application_history", "parameters": _APP_ID},
    "Confirm": {"operationId": "request-confirm_application",
                "parameters": {**_APP_ID, "header.if-match": "$response.header.ETag"},
                "description": "Confirm receipt (双方确认, 条例第三十一条)"},
}


async def get_settings(request: Request) -> Any:  # async: no thread-pool hop (services/db.py)
    return request.state.settings


SettingsDep = Annotated[Any, Depends(get_settings)]


async def staff(principal: PrincipalDep) -> Principal:
    if principal.is_anonymous:
        raise Unauthorized("This operation needs a bearer token.", code="authentication_required")
    return principal


StaffDep = Annotated[Principal, Depends(staff)]
Created = tuple[BaseModel, dict[str, str]]


async def _idempotent(session: Any, settings: Any, key: str | None, scope: str, body: BaseModel,
                      create: Callable[[], Awaitable[Created]]) -> Response:
    """Create once per Idempotency-Key (domain/idempotency.py); without a key, just create."""
    if key:
        fp = idempotency.fingerprint(body.model_dump(mode="json"))
        replay = await idempotency.claim(session, scope, key, fp, ttl_hours=settings.idempotency_ttl_hours)
        if replay is not None:
            return JSONResponse(replay.body, status_code=replay.status_code,
                                headers={**replay.headers, "Idempotent-Replayed": "true"})
    receipt, headers = await create()
    if key:
        await idempotency.complete(session, scope, key, status.HTTP_201_CREATED, receipt.model_dump(mode="json"),
                                   headers)
    # Serialised by pydantic straight to bytes: no intermediate dict, no second pass through json.dumps.
    return Response(receipt.model_dump_json(), status_code=status.HTTP_201_CREATED, headers=headers,
                    media_type="application/json")


@router.post("/applications", summary="Apply for disclosure online (在线申请)", status_code=status.HTTP_201_CREATED,
             response_model=ApplicationReceipt,
             responses={**problem_responses(401, 403, 409, 422), 201: {"headers": _ETAG_HEADER, "links": SUBMIT_LINKS}},
             description="Anyone may apply (条例第二十七条), anonymously or signed in as an applicant. The "
                         "application waits for 双方确认 (条例第三十一条) before the 20-working-day clock starts. "
                         "The 201 carries the tracking number and the 查询码 — shown this once.")
async def submit_application(body: ApplicationSubmit, session: SessionDep, principal: PrincipalDep,
                             settings: SettingsDep, catalog: CatalogDep,
                             idempotency_key: IdempotencyKey = None) -> Response:
    # The catalogue is asked before the database is touched, so no transaction waits on another service.
    suggestions = await intake.fetch_suggestions(catalog, body.info_title, body.info_doc_number)

    async def create() -> Created:
        done = await intake.submit_online(session, principal, body, suggestions)
        return ApplicationReceipt.model_validate(intake.receipt_fields(done)), {"ETag": etag(done.app.version)}

    # Anonymous applicants share no identity, so their keys are scoped by the form itself: a key can only ever
    # replay the identical submission, and reusing someone's key with another form neither conflicts (which would
    # reveal that the key was used) nor replays their receipt.
    scope = (f"submit|{principal.sub}" if principal.sub
             else f"submit|anonymous|{idempotency.fingerprint(body.model_dump(mode='json'))}")
    return await _idempotent(session, settings, idempotency_key, scope, body, create)


@router.post("/applications/register", summary="Register an application received by the organ (受理登记)",
             status_code=status.HTTP_201_CREATED, response_model=RegisterReceipt,
             responses={**problem_responses(401, 403, 409, 422),
                        201: {"headers": _ETAG_HEADER, "links": REGISTER_LINKS}},
             description="For the intake clerk (受理) of the organ. in_person and mail_signed have a known "
                         "receipt date (条例第三十一条) and start the clock at once; ordinary letters, e-mail, fax "
                         "and other channels wait for the confirmation with the applicant.")
async def register_application(body: ApplicationRegister, session: SessionDep, principal: StaffDep,
                               settings: SettingsDep, catalog: CatalogDep,
                               idempotency_key: IdempotencyKey = None) -> Response:
    suggestions = await intake.fetch_suggestions(catalog, body.info_title, body.info_doc_number)

    async def create() -> Created:
        done = await intake.register(session, principal, body, suggestions)
        receipt = RegisterReceipt.model_validate({
            **intake.receipt_fields(done), "repeat_of": done.app.repeat_of,
            "applicant": applicant_fields(done.app, principal, unmask=False)})
        return receipt, {"ETag": etag(done.app.version), "Location": f"{PREFIX}/applications/{done.app.id}"}

    scope = f"register|{principal.sub}|{principal.organ}"
    return await _idempotent(session, settings, idempotency_key, scope, body, create)


@router.get("/applications/{application_id}/applicant", summary="The applicant's personal data (申请人信息)",
            response_model=ApplicantAccessRead, responses=problem_responses(401, 403, 404, 422),
            description="Masked by default. `unmask=true` with a `reason` shows identity number, phone, e-mail and "
                        "address in full to the organ's intake clerks, handlers and reply approvers, and is audited.")
async def get_application_applicant(
    application_id: str, session: SessionDep, principal: StaffDep,
    unmask: Annotated[bool, Query(description="show the personal data unmasked (audited)")] = False,
    reason: Annotated[str | None, Query(max_length=200, description="why it is needed (required to unmask)")] = None,
) -> ApplicantAccessRead:
    # Decided before the look-up, from the caller alone: a 403 here says nothing about whether the id exists.
    if unmask and not (principal.organ and principal.has_any(UNMASK_ROLES)):
        raise PiiUnmaskForbidden("Unmasking personal data needs the intake clerk, handler or reply approver role.")
    app = await load_application(session, principal, application_id)
    return ApplicantAccessRead(application_id=app.id, applicant=ApplicantRead.model_validate(
        applicant_fields(app, principal, unmask=unmask, reason=reason)))


@router.get("/applications/{application_id}/suggestions",
            summary="Published records that may answer the request (目录匹配)", response_model=SuggestionsRead,
            responses=problem_responses(401, 404, 422))
async def list_application_suggestions(application_id: str, session: SessionDep, principal: StaffDep,
                                       catalog: CatalogDep, request: Request, response: Response,
                                       paging: ShortListPaging) -> dict:
    app = await load_application(session, principal, application_id)
    try:
        docs, fresh = await intake.search_catalogue(catalog, app.info_title, app.info_doc_number), True
    except AppError:  # the catalogue is away: what intake stored is better than an error
        docs, fresh = app.suggestions or [], False
    return page_of(request, response, [SuggestionRead.model_validate(d) for d in docs], paging, lambda s: s.id,
                   fresh=fresh)


@router.get("/applicants/monthly-counts", summary="Applications per applicant in a month (第三十五条, 按件计收)",
            response_model=Page[ApplicantMonthCount], responses=problem_responses(401, 403, 422),
            description="For the organ's handlers and reply approvers: each applicant's number of applications to "
                        "the organ in the calendar month (by receipt date, else submission date), most first.")
async def list_monthly_counts(
    request: Request, response: Response, session: SessionDep, principal: StaffDep, settings: SettingsDep,
    month: Annotated[str, Query(pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$", description="YYYY-MM")],
    paging: Annotated[PageParams, Depends(page_params(50))],
    min_count: Annotated[int, Query(ge=1, le=10000, description="only applicants with at least this many")] = 1,
) -> dict:
    if not principal.organ or not principal.has_any({"handler", "reply_approver"}):
        raise WrongRole("Monthly counts are for the organ's handlers and reply approvers.")
    year, month_no = (int(p) for p in month.split("-"))
    secret = settings.applicant_key_secret.get_secret_value().encode()
    items, next_cursor = await repeats.monthly_counts(session, principal.organ, date(year, month_no, 1),
                                                      secret=secret, min_count=min_count, cursor=paging.after,
                                                      limit=paging.limit)
    return paged(request, response, [ApplicantMonthCount.model_validate(i) for i in items], next_cursor)
