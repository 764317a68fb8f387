"""Staff endpoints for applications: work-lists, the record, its clock explained, and every handling action.
Every action needs If-Match (the ETag of the application) and the right role of the application's organ."""

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from request_service.domain import clock, directory, handling, worklists
from request_service.domain.applications import load_application, today
from request_service.domain.calendar import current_calendar
from request_service.domain.intake import applicant_key
from request_service.domain.pii import applicant_fields
from request_service.models import Application, HandlingStep, ThirdPartyConsultation
from request_service.policy import POLICY
from request_service.schemas import (
    TRACKING_NO_PATTERN,
    ApplicantLookup,
    ApplicationStaffRead,
    ApplicationSummary,
    ApproveReplyBody,
    AssignBody,
    ClockDayRead,
    ClockSegmentRead,
    CommentBody,
    ConfirmBody,
    ConsultationRecordRead,
    ConsultBody,
    DatedBody,
    DeadlineRead,
    DeferBody,
    DeliveryBody,
    DraftReplyBody,
    ExplanationBody,
    ExplanationRequestBody,
    ExtendBody,
    FeeNoticeBody,
    HandlingRole,
    HandlingStepRead,
    OpinionBody,
    PaymentBody,
    StaffMemberRead,
    SupplementRequestBody,
)
from services.auth import Principal, PrincipalDep
from services.concurrency import etag
from services.db import DatabaseDep, SessionDep
from services.errors import Unauthorized, UnprocessableEntity, problem_responses
from services.pagination import Page, PageParams, ShortListPaging, page_of, page_params, paged
from services.policy import ActionRead, action_link

PREFIX = "/api/v1/requests"
router = APIRouter(prefix=PREFIX, tags=["applications"])
WRITE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422, 428)
WEEKDAYS = "一二三四五六日"


async def staff(principal: PrincipalDep, request: Request, database: DatabaseDep) -> Principal:
    if principal.is_anonymous:
        raise Unauthorized("This operation needs a bearer token.", code="authentication_required")
    if request.method == "GET":  # the staff directory learns who handles the organ's applications (directory.py)
        await directory.record_seen(database, principal)
    return principal


StaffDep = Annotated[Principal, Depends(staff)]
IfMatch = Annotated[str | None, Header(description="ETag of the version you read (428 without it)")]


async def get_settings(request: Request) -> Any:  # async: no thread-pool hop (services/db.py)
    return request.state.settings


SettingsDep = Annotated[Any, Depends(get_settings)]


def summary(app: Application) -> dict[str, Any]:
    data = {c: getattr(app, c) for c in ApplicationSummary.model_fields if hasattr(app, c)}
    data["overdue"] = app.status in ("accepted", "reply_drafted") and app.due_on is not None and app.due_on < today()
    return data


# The body schema of each handling action's endpoint (filled by `_action` below): what `needs` names.
ACTION_BODIES: dict[str, type] = {}


async def actions_of(session: AsyncSession, app: Application, principal: Principal,
                     settings: Any) -> list[ActionRead]:
    """What `principal` may do next: the handling guard (handling.refusal) and the access table's entry of each
    action's endpoint (request_service/policy.py), both the very ones that then judge the call."""
    links = []
    for action in await handling.allowed_actions(session, principal, app):
        segment = action.replace("_", "-")
        link = action_link(POLICY, principal, name=action, path_template=f"{PREFIX}/applications/{{application_id}}/"
                           f"{segment}", path=f"{PREFIX}/applications/{app.id}/{segment}",
                           base_url=settings.public_base_url, body_model=ACTION_BODIES[action])
        if link is not None:
            links.append(link)
    return links


async def staff_read(session: AsyncSession, app: Application, principal: Principal,
                     settings: Any) -> ApplicationStaffRead:
    data = summary(app)
    data.update({c: getattr(app, c) for c in ApplicationStaffRead.model_fields if hasattr(app, c) and c not in data})
    data["applicant"] = applicant_fields(app, principal, unmask=False, reason=None)
    data["actions"] = await actions_of(session, app, principal, settings)
    return ApplicationStaffRead.model_validate(data)


VIEW_DESCRIPTION = ("all · due_soon · overdue · waiting_applicant · waiting_third_party · awaiting_confirmation · "
                    "awaiting_sign_off · notices_not_delivered")


def _tracking_no(value: str | None) -> str | None:
    """A tracking number as people type it (spaces, lower case); one this service could not have issued is a 422,
    like the applicant's look-up (schemas.TrackQuery)."""
    if value is None:
        return None
    folded = "".join(value.split()).upper()
    if not re.fullmatch(TRACKING_NO_PATTERN, folded):
        raise UnprocessableEntity("Not a tracking number this service issues.", errors=[{
            "loc": ["query", "tracking_no"], "msg": f"must match {TRACKING_NO_PATTERN}", "type": "value_error"}])
    return folded


@router.get("/applications", summary="Work-lists of the organ's applications (待办), and look-ups",
            response_model=Page[ApplicationSummary], responses=problem_responses(401, 403, 422))
async def list_applications(
    request: Request, response: Response, session: SessionDep, principal: StaffDep,
    paging: Annotated[PageParams, Depends(page_params(50))],
    view: Annotated[str, Query(pattern="^(" + "|".join(worklists.VIEWS) + ")$", description=VIEW_DESCRIPTION)] = "all",
    within: Annotated[int, Query(ge=0, le=40, description="due_soon: due within N working days")] = 5,
    tracking_no: Annotated[str | None, Query(max_length=32, description=(
        "申请编号: the one application with this number (in your organ), e.g. GK2026-ABCD2345"))] = None,
    assigned_to: Annotated[str | None, Query(min_length=1, max_length=100, description=(
        "承办人: `me` for the applications assigned to you, or a colleague's `sub` (GET /staff)"))] = None,
) -> dict:
    if not handling.is_staff(principal):
        raise handling.WrongRole("Work-lists are for the organ's intake clerks, handlers and reply approvers.")
    rows, next_cursor = await worklists.worklist(
        session, principal, view, within, paging.after, paging.limit, tracking_no=_tracking_no(tracking_no),
        assigned_to=principal.sub if assigned_to == "me" else assigned_to)
    return paged(request, response, [ApplicationSummary.model_validate(summary(a)) for a in rows], next_cursor)


@router.post("/applications/lookup", summary="Find the organ's applications of one applicant (按申请人查询)",
             response_model=Page[ApplicationSummary], responses=problem_responses(401, 403, 422),
             description="The applicant's identity as they give it (证件 type and number; or type, name and a "
                         "contact) in the body — never in a URL, where access logs would keep it. Rows carry no "
                         "personal data; unmasking one application's applicant stays GET …/applicant?unmask=true "
                         "with a reason. Every look-up is a POST and so an entry of the audit log (who, when).")
async def lookup_applications(
    body: ApplicantLookup, request: Request, response: Response, session: SessionDep, principal: StaffDep,
    paging: Annotated[PageParams, Depends(page_params(50))],
    view: Annotated[str, Query(pattern="^(" + "|".join(worklists.VIEWS) + ")$", description=VIEW_DESCRIPTION)] = "all",
) -> dict:
    if not handling.is_staff(principal):
        raise handling.WrongRole("Look-ups are for the organ's intake clerks, handlers and reply approvers.")
    rows, next_cursor = await worklists.worklist(session, principal, view, 0, paging.after, paging.limit,
                                                 applicant_key=applicant_key(body))
    return paged(request, response, [ApplicationSummary.model_validate(summary(a)) for a in rows], next_cursor)


@router.get("/staff", summary="The organ's handling staff, for assignment (办理人员名录)",
            response_model=Page[StaffMemberRead], responses=problem_responses(401, 403, 422),
            description="Learnt from the tokens of the organ's intake clerks, handlers and reply approvers who have "
                        "called this service (the identity platform manages people; see domain/directory.py): "
                        "someone who never called is not listed yet. `sub` is what `assign` takes as handler_sub.")
async def list_staff(request: Request, response: Response, session: SessionDep, principal: StaffDep,
                     paging: ShortListPaging,
                     role: Annotated[HandlingRole | None, Query(description="only staff holding this role")] = None,
                     seen_within_days: Annotated[int, Query(ge=1, le=3660, description=(
                         "only staff seen in the last N days"))] = 180) -> dict:
    if not handling.is_staff(principal):
        raise handling.WrongRole("The staff directory is for the organ's handling staff.")
    rows = await directory.staff_of(session, principal.organ or "", role=role.value if role else None,
                                    seen_within_days=seen_within_days)
    return page_of(request, response, [StaffMemberRead.of(r) for r in rows], paging, key=lambda m: m.sub)


@router.get("/applications/{application_id}", summary="One application (personal data masked)",
            response_model=ApplicationStaffRead, responses=problem_responses(401, 404))
async def get_application(application_id: str, session: SessionDep, principal: StaffDep, settings: SettingsDep,
                          response: Response) -> ApplicationStaffRead:
    app = await load_application(session, principal, application_id)
    response.headers["ETag"] = etag(app.version)
    return await staff_read(session, app, principal, settings)


@router.get("/applications/{application_id}/deadline", summary="The statutory deadline explained day by day",
            response_model=DeadlineRead, responses=problem_responses(401, 404))
async def get_application_deadline(application_id: str, session: SessionDep, principal: StaffDep) -> DeadlineRead:
    app = await load_application(session, principal, application_id)
    segments = await clock.segments_of(session, app.id)
    state = clock.compute(segments, await current_calendar(session), clock.allowed_days(app), today(), explain=True)
    return DeadlineRead(
        application_id=app.id, receipt_date=app.receipt_date,
        due_on=app.deferred_due_on or state.due_on, provisional=state.provisional, allowed=state.allowed,
        used=state.used, left=state.left, state=state.state, extension_days=app.extension_days,
        deferred_due_on=app.deferred_due_on, supplement_notice_due_on=app.supplement_notice_due_on,
        supplement_due_on=app.supplement_due_on, fee_due_on=app.fee_due_on,
        segments=[ClockSegmentRead.model_validate(s) for s in segments],
        days=[ClockDayRead(date=d.day, weekday="周" + WEEKDAYS[d.day.weekday()], counted=d.counted, note=d.note)
              for d in state.days])


@router.get("/applications/{application_id}/history", summary="The audited handling log (办理记录)",
            response_model=Page[HandlingStepRead], responses=problem_responses(401, 404, 422))
async def list_application_history(application_id: str, session: SessionDep, principal: StaffDep, request: Request,
                                   response: Response, paging: ShortListPaging) -> dict:
    app = await load_application(session, principal, application_id)
    steps = (await session.execute(select(HandlingStep).where(HandlingStep.application_id == app.id)
                                   .order_by(HandlingStep.seq))).scalars()
    return page_of(request, response, [HandlingStepRead.model_validate(s) for s in steps], paging, lambda s: s.seq)


@router.get("/applications/{application_id}/third-party-consultations",
            summary="Consultations of third parties and co-author organs (征求意见)",
            response_model=Page[ConsultationRecordRead], responses=problem_responses(401, 404, 422))
async def list_third_party_consultations(application_id: str, session: SessionDep, principal: StaffDep,
                                         request: Request, response: Response, paging: ShortListPaging) -> dict:
    app = await load_application(session, principal, application_id)
    rows = (await session.execute(select(ThirdPartyConsultation).where(
        ThirdPartyConsultation.application_id == app.id).order_by(ThirdPartyConsultation.sent_on,
                                                                  ThirdPartyConsultation.id))).scalars()
    return page_of(request, response, [ConsultationRecordRead.model_validate(r) for r in rows], paging,
                   lambda r: r.id)


def _action(name: str, body_model: type, summary_text: str, to_action: Any) -> None:
    async def endpoint(application_id: str, body: body_model, session: SessionDep,  # type: ignore[valid-type]
                       principal: StaffDep, settings: SettingsDep, response: Response,
                       if_match: IfMatch = None) -> ApplicationStaffRead:
        app = await load_application(session, principal, application_id, for_update=True)
        await handling.transition(session, principal, app, name, to_action(body), if_match, settings)
        response.headers["ETag"] = etag(app.version)
        return await staff_read(session, app, principal, settings)

    ACTION_BODIES[name] = body_model
    endpoint.__name__ = f"{name}_application"
    router.post(f"/applications/{{application_id}}/{name.replace('_', '-')}", summary=summary_text,
                response_model=ApplicationStaffRead, responses=WRITE_ERRORS)(endpoint)


A = handling.Action
_action("confirm", ConfirmBody, "Confirm receipt (双方确认, 第三十一条): the clock starts",
        lambda b: A(on=b.on, method=b.method, comment=b.comment))
_action("assign", AssignBody, "Assign the handler (分办)", lambda b: A(handler_sub=b.handler_sub, comment=b.comment))
_action("request_supplement", SupplementRequestBody, "Ask the applicant to supplement (补正, 第三十条): clock stops",
        lambda b: A(on=b.on, items=b.items, days=b.days, comment=b.comment))
_action("receive_supplement", DatedBody, "Supplement received: the 20 working days start again",
        lambda b: A(on=b.on, comment=b.comment))
_action("close_unsupplemented", DatedBody, "Close: not supplemented in time (视为放弃)",
        lambda b: A(on=b.on, comment=b.comment))
_action("accept_late_supplement", DatedBody,
        "正当理由: accept a late supplement and re-open an application closed as 视为放弃 (第三十条)",
        lambda b: A(on=b.on, comment=b.comment))
_action("record_delivery", DeliveryBody,
        "Record the day a notice sent by post was signed for (送达): its window starts counting",
        lambda b: A(on=b.on, letter_id=b.letter_id, comment=b.comment))
_action("consult", ConsultBody, "Consult a third party or co-author organ (征求意见): clock pauses",
        lambda b: A(on=b.on, party_kind=b.party_kind.value, party_name=b.party_name,
                    received_by_party_on=b.received_by_party_on, comment=b.comment))
_action("record_opinion", OpinionBody, "Record the consulted party's answer; the clock resumes when none is open",
        lambda b: A(on=b.on, consultation_id=b.consultation_id, opinion=b.opinion.value, comment=b.comment))
_action("extend", ExtendBody, "Extend the reply period once, ≤ 20 working days (延期答复)",
        lambda b: A(days=b.days, comment=b.comment))
_action("request_explanation", ExplanationRequestBody,
        "Ask the applicant to explain an excessive volume (说明理由, 第三十五条): a notice with a reply window",
        lambda b: A(on=b.on, days=b.days, comment=b.comment))
_action("record_explanation", ExplanationBody, "Record the applicant's reasons (第三十五条)",
        lambda b: A(on=b.on, comment=b.comment))
_action("defer", DeferBody, "Reasons judged reasonable: a deferred deadline with a notice (延迟答复, 第三十五条)",
        lambda b: A(due_on=b.due_on, comment=b.comment))
_action("notify_fee", FeeNoticeBody, "Send a fee notice (收费通知, 国办函〔2020〕109号)",
        lambda b: A(on=b.on, fee_method=b.fee_method.value, pages=b.pages, comment=b.comment))
_action("record_payment", PaymentBody, "Record the fee payment; the clock resumes",
        lambda b: A(on=b.on, amount=b.amount, comment=b.comment))
_action("waive_fee", CommentBody, "Waive the fee (减免)", lambda b: A(comment=b.comment))
_action("close_unpaid", DatedBody, "Close: fee not paid in time (视为放弃)", lambda b: A(on=b.on, comment=b.comment))
_action("draft_reply", DraftReplyBody, "Draft the reply with its outcome (拟定答复)",
        lambda b: A(outcome=b.outcome.value, articles=b.articles, comment=b.comment,
                    withheld_parts=[p.model_dump() for p in b.withheld_parts],
                    published_document_id=b.published_document_id))
_action("return_reply", CommentBody, "Return the draft reply to the handler", lambda b: A(comment=b.comment))
_action("approve_reply", ApproveReplyBody, "Sign off and send the reply (签发): the application closes",
        lambda b: A(comment=b.comment, context=b.context))
