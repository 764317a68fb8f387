"""Documents: drafting, the staff record, redactions (区分处理), the review workflow, work-lists.

The public read (`GET /documents/{id}`) always serves the redacted public projection, for everyone; catalogue
staff read the whole record at `/documents/{id}/record`. Every change needs If-Match with the ETag.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from sqlalchemy import select

from catalog_service.deps import CalendarDep, IfMatch, PublicSessionDep, SettingsDep, StaffDep
from catalog_service.domain import documents as docs
from catalog_service.domain import workflow, worklists
from catalog_service.errors import OutsideOrgan
from catalog_service.models import ReviewStep
from catalog_service.policy import POLICY
from catalog_service.schemas import (
    ClassifyBody,
    DecideBody,
    DocumentCreate,
    DocumentPublicDetail,
    DocumentStaffRead,
    DocumentUpdate,
    ReasonBody,
    RedactionCreate,
    RedactionRead,
    ReevaluateBody,
    RepealBody,
    ResolveReferralBody,
    ReviewStepRead,
    TransitionBody,
    WorklistItem,
)
from services.auth import ANONYMOUS
from services.concurrency import etag, matches
from services.db import SessionDep
from services.errors import problem_responses
from services.pagination import Page, PageParams, page_of, page_params, paged
from services.policy import action_link

PREFIX = "/api/v1/catalog"
router = APIRouter(prefix=PREFIX, tags=["documents"])
WRITE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422, 428)
CREATE_ERRORS = problem_responses(401, 403, 404, 409, 422)  # a new record has no version to match: no 412/428
ETAG_HEADER = {"ETag": {"description": "Version of the record; send it back in If-Match", "schema": {"type": "string"}}}
# Where a drafted record goes next (OpenAPI links: clients, and the stateful fuzz test, follow them with the new
# record's id and ETag): read it back, its review log, edit it, submit it for review (送审).
_ID, _VERSION = "$response.body#/id", "$response.header.ETag"
DRAFT_LINKS = {
    "GetRecord": {"operationId": "catalog-get_document_record", "parameters": {"path.document_id": _ID},
                  "description": "The whole record, as its drafter sees it"},
    "GetReviewLog": {"operationId": "catalog-list_review_steps", "parameters": {"path.document_id": _ID}},
    "EditDraft": {"operationId": "catalog-update_document",
                  "parameters": {"path.document_id": _ID, "header.if-match": _VERSION}},
    "Submit": {"operationId": "catalog-submit_document",
               "parameters": {"path.document_id": _ID, "header.if-match": _VERSION},
               "description": "Submit the draft for division review (送审)"},
}


# The body schema of each workflow action's endpoint: what its `needs` names (filled where each is registered).
ACTION_BODIES: dict[str, type] = {"decide": DecideBody, "resolve_referral": ResolveReferralBody,
                                  "classify": ClassifyBody, "repeal": RepealBody, "reevaluate": ReevaluateBody}


async def staff_read(session, doc, principal, settings) -> DocumentStaffRead:
    """The whole record and what the caller may do next: the workflow's guard (workflow.refusal) and the access
    table's entry of each action's endpoint (catalog_service/policy.py), the very ones that then judge the call."""
    read = await docs.staff_read(session, doc, principal)
    for action in await workflow.allowed_actions(session, principal, doc):
        segment = action.replace("_", "-")
        link = action_link(POLICY, principal, name=action,
                           path_template=f"{PREFIX}/documents/{{document_id}}/{segment}",
                           path=f"{PREFIX}/documents/{doc.id}/{segment}", base_url=settings.public_base_url,
                           body_model=ACTION_BODIES[action])
        if link is not None:
            read.actions.append(link)
    return read


async def _staff_record(session, principal, document_id: str, response: Response, settings) -> DocumentStaffRead:
    doc = await docs.load_document(session, principal, document_id)
    if doc.status == "published" and not doc.classified:
        await docs.require_own(session, principal, doc)  # a published record of another organ: public view only
    read = await staff_read(session, doc, principal, settings)
    response.headers["ETag"] = etag(doc.version)
    return read


@router.post("/documents", summary="Draft a document (拟稿)", status_code=status.HTTP_201_CREATED,
             response_model=DocumentStaffRead,
             responses={**CREATE_ERRORS, 201: {"headers": ETAG_HEADER, "links": DRAFT_LINKS}})
async def create_document(body: DocumentCreate, session: SessionDep, principal: StaffDep, calendar: CalendarDep,
                          response: Response, settings: SettingsDep) -> DocumentStaffRead:
    if "drafter" not in principal.roles:
        raise OutsideOrgan("Drafting needs the drafter role of an organ.")
    doc = await docs.create_document(session, principal, body, calendar)
    response.headers["ETag"] = etag(doc.version)
    response.headers["Location"] = f"{PREFIX}/documents/{doc.id}/record"
    return await staff_read(session, doc, principal, settings)


@router.get("/documents/{document_id}", summary="A published document (public view, redacted)",
            response_model=DocumentPublicDetail,
            responses={**problem_responses(404), 304: {"description": "Not modified"}})
async def get_document(document_id: str, session: PublicSessionDep, response: Response, settings: SettingsDep,
                       if_none_match: Annotated[str | None, Header()] = None) -> DocumentPublicDetail | Response:
    doc = await docs.load_document(session, ANONYMOUS, document_id)  # the public view, whoever asks
    if matches(if_none_match, doc.version):
        return Response(status_code=304, headers={"ETag": etag(doc.version)})
    response.headers["ETag"] = etag(doc.version)
    response.headers["Cache-Control"] = "no-cache"  # revalidate (ETag → 304): a withdrawn record must stop at once
    return await docs.public_detail(session, doc, settings.public_base_url)


@router.get("/documents/{document_id}/record", summary="The whole record, for the organ's catalogue staff",
            response_model=DocumentStaffRead, responses=problem_responses(401, 403, 404))
async def get_document_record(document_id: str, session: SessionDep, principal: StaffDep,
                              response: Response, settings: SettingsDep) -> DocumentStaffRead:
    return await _staff_record(session, principal, document_id, response, settings)


@router.patch("/documents/{document_id}", summary="Edit a draft", response_model=DocumentStaffRead,
              responses=WRITE_ERRORS)
async def update_document(document_id: str, body: DocumentUpdate, session: SessionDep, principal: StaffDep,
                          calendar: CalendarDep, response: Response, settings: SettingsDep,
                          if_match: IfMatch = None) -> DocumentStaffRead:
    doc = await docs.load_document(session, principal, document_id, for_update=True)
    await docs.update_document(session, principal, doc, body, if_match, calendar)
    response.headers["ETag"] = etag(doc.version)
    return await staff_read(session, doc, principal, settings)


@router.post("/documents/{document_id}/redactions", summary="Withhold a segment (区分处理)",
             status_code=status.HTTP_201_CREATED, response_model=RedactionRead, responses=WRITE_ERRORS)
async def create_redaction(document_id: str, body: RedactionCreate, session: SessionDep, principal: StaffDep,
                           response: Response, if_match: IfMatch = None) -> RedactionRead:
    doc = await docs.load_document(session, principal, document_id, for_update=True)
    redaction = await docs.add_redaction(session, principal, doc, body, if_match)
    response.headers["ETag"] = etag(doc.version)
    return docs.redaction_read(redaction, doc)


@router.delete("/documents/{document_id}/redactions/{redaction_id}", summary="Remove a redaction",
               status_code=status.HTTP_204_NO_CONTENT,
               responses={**WRITE_ERRORS, 204: {"description": "Removed; ETag is the record's new version",
                                                "headers": ETAG_HEADER}})
async def delete_redaction(document_id: str, redaction_id: str, session: SessionDep, principal: StaffDep,
                           if_match: IfMatch = None) -> Response:
    doc = await docs.load_document(session, principal, document_id, for_update=True)
    await docs.remove_redaction(session, principal, doc, redaction_id, if_match)
    return Response(status_code=204, headers={"ETag": etag(doc.version)})


@router.get("/documents/{document_id}/review-log", summary="The immutable review log (审查记录)",
            response_model=Page[ReviewStepRead], responses=problem_responses(401, 403, 404, 422))
async def list_review_steps(document_id: str, session: SessionDep, principal: StaffDep, request: Request,
                            response: Response, paging: Annotated[PageParams, Depends(page_params(100, 500))]) -> dict:
    doc = await docs.load_document(session, principal, document_id)
    await docs.require_own(session, principal, doc)
    steps = (await session.execute(select(ReviewStep).where(ReviewStep.document_id == doc.id)
                                   .order_by(ReviewStep.seq))).scalars()
    return page_of(request, response, [ReviewStepRead.model_validate(s) for s in steps], paging, lambda s: s.seq)


async def _act(session, principal, document_id: str, action: str, decision: workflow.Decision,
               if_match: str | None, response: Response, settings) -> DocumentStaffRead:
    doc = await docs.load_document(session, principal, document_id, for_update=True)
    await workflow.transition(session, principal, doc, action, decision, if_match, settings)
    response.headers["ETag"] = etag(doc.version)
    return await staff_read(session, doc, principal, settings)


def _simple(action: str, summary: str, body_model: type) -> None:
    path = f"/documents/{{document_id}}/{action.replace('_', '-')}"

    async def endpoint(document_id: str, body: body_model, session: SessionDep,  # type: ignore[valid-type]
                       principal: StaffDep, response: Response, settings: SettingsDep,
                       if_match: IfMatch = None) -> DocumentStaffRead:
        return await _act(session, principal, document_id, action, workflow.Decision(comment=body.comment),
                          if_match, response, settings)

    ACTION_BODIES[action] = body_model
    endpoint.__name__ = f"{action}_document"
    router.post(path, summary=summary, response_model=DocumentStaffRead, responses=WRITE_ERRORS)(endpoint)


_simple("submit", "Drafter submits for review (提交审核)", TransitionBody)
_simple("approve", "Division head approves (处室负责人审核通过)", TransitionBody)
_simple("return", "Return to the drafter with a comment (退回修改)", ReasonBody)
_simple("refer", "Refer to the competent department or secrecy administration (报请确定)", ReasonBody)
_simple("withdraw", "Withdraw a published record (撤回), keeping it", ReasonBody)
_simple("declassify", "Declassify (解密); review starts again, nothing is published by it", ReasonBody)


@router.post("/documents/{document_id}/decide", summary="Unit head decides the attribute (单位主要负责人审定)",
             response_model=DocumentStaffRead, responses=WRITE_ERRORS)
async def decide_document(document_id: str, body: DecideBody, session: SessionDep, principal: StaffDep,
                          response: Response, settings: SettingsDep, if_match: IfMatch = None) -> DocumentStaffRead:
    decision = workflow.Decision(comment=body.comment, attribute=body.attribute.value,
                                 withholding_grounds=[g.value for g in body.withholding_grounds]
                                 if body.withholding_grounds is not None else None,
                                 attribute_reason=body.attribute_reason,
                                 scheduled_publish_at=body.scheduled_publish_at)
    return await _act(session, principal, document_id, "decide", decision, if_match, response, settings)


@router.post("/documents/{document_id}/resolve-referral", summary="Record the referral's outcome (确定意见)",
             response_model=DocumentStaffRead, responses=WRITE_ERRORS)
async def resolve_document_referral(document_id: str, body: ResolveReferralBody, session: SessionDep,
                                    principal: StaffDep, response: Response, settings: SettingsDep,
                                    if_match: IfMatch = None) -> DocumentStaffRead:
    decision = workflow.Decision(comment=body.comment, attribute=body.attribute.value if body.attribute else None,
                                 withholding_grounds=[g.value for g in body.withholding_grounds]
                                 if body.withholding_grounds is not None else None)
    return await _act(session, principal, document_id, "resolve_referral", decision, if_match, response, settings)


@router.post("/documents/{document_id}/classify", summary="Classify as a state secret (定密); never published",
             response_model=DocumentStaffRead, responses=WRITE_ERRORS)
async def classify_document(document_id: str, body: ClassifyBody, session: SessionDep, principal: StaffDep,
                            response: Response, settings: SettingsDep, if_match: IfMatch = None) -> DocumentStaffRead:
    decision = workflow.Decision(comment=body.comment, classification_level=body.classification_level.value,
                                 secrecy_period_years=body.secrecy_period_years, declassify_on=body.declassify_on,
                                 classification_responsible=body.classification_responsible)
    return await _act(session, principal, document_id, "classify", decision, if_match, response, settings)


@router.post("/documents/{document_id}/repeal", summary="Repeal (废止); the record stays, marked 已废止",
             response_model=DocumentStaffRead, responses=WRITE_ERRORS)
async def repeal_document(document_id: str, body: RepealBody, session: SessionDep, principal: StaffDep,
                          response: Response, settings: SettingsDep, if_match: IfMatch = None) -> DocumentStaffRead:
    decision = workflow.Decision(comment=body.comment, repeal_date=body.repeal_date)
    return await _act(session, principal, document_id, "repeal", decision, if_match, response, settings)


@router.post("/documents/{document_id}/reevaluate", summary="Re-open a withheld record (动态调整, 条例第十八条)",
             response_model=DocumentStaffRead, responses=WRITE_ERRORS)
async def reevaluate_document(document_id: str, body: ReevaluateBody, session: SessionDep, principal: StaffDep,
                              response: Response, settings: SettingsDep, if_match: IfMatch = None) -> DocumentStaffRead:
    decision = workflow.Decision(comment=body.comment, attribute=body.attribute.value if body.attribute else None)
    return await _act(session, principal, document_id, "reevaluate", decision, if_match, response, settings)


@router.get("/worklists/publication", summary="Publication deadlines due soon or overdue (条例第二十六条)",
            response_model=Page[WorklistItem], responses=problem_responses(401, 403, 422))
async def list_publication_worklist(
    request: Request, response: Response, session: SessionDep, principal: StaffDep, calendar: CalendarDep,
    paging: Annotated[PageParams, Depends(page_params(50))],
    within_working_days: Annotated[int, Query(ge=0, le=60)] = 5,
) -> dict:
    items, next_cursor = await worklists.publication_worklist(session, principal, calendar, within_working_days,
                                                              paging.after, paging.limit)
    return paged(request, response, items, next_cursor)


@router.get("/worklists/reevaluation", summary="Withheld records due for re-evaluation (条例第十八条)",
            response_model=Page[WorklistItem], responses=problem_responses(401, 403, 422))
async def list_reevaluation_worklist(
    request: Request, response: Response, session: SessionDep, principal: StaffDep,
    paging: Annotated[PageParams, Depends(page_params(50))], within_days: Annotated[int, Query(ge=0, le=366)] = 30,
) -> dict:
    items, next_cursor = await worklists.reevaluation_worklist(session, principal, within_days, paging.after,
                                                               paging.limit)
    return paged(request, response, items, next_cursor)
