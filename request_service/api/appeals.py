"""行政复议 / 行政诉讼 cases of an application (thin endpoints)."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, computed_field

from request_service.domain import appeals as domain
from request_service.domain.applications import load_application
from request_service.models import Appeal
from request_service.vocab import AppealKind, AppealOutcome
from services.auth import Principal, PrincipalDep, require_staff
from services.concurrency import etag
from services.db import SessionDep
from services.errors import problem_responses
from services.pagination import Page, ShortListPaging, page_of
from services.vocab import Term, label

PREFIX = "/api/v1/requests"
router = APIRouter(prefix=PREFIX, tags=["appeals"])


async def _staff(principal: PrincipalDep) -> Principal:
    return require_staff(principal)


StaffDep = Annotated[Principal, Depends(_staff)]
IfMatch = Annotated[str | None, Header(description="ETag of the version you read (required: 428 without it)")]


class AppealCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: AppealKind
    case_no: str | None = Field(None, max_length=100, description="案号, e.g. (2026)京01行初123号")
    filed_on: date = Field(description="申请复议 / 起诉之日")
    notes: str | None = Field(None, max_length=4000)


class AppealUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: AppealOutcome | None = None
    decided_on: date | None = Field(None, description="审结日期: required unless the outcome is pending")
    case_no: str | None = Field(None, max_length=100)
    notes: str | None = Field(None, max_length=4000)


class AppealRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    application_id: str
    kind: AppealKind
    case_no: str | None
    filed_on: date
    outcome: AppealOutcome
    decided_on: date | None
    notes: str | None
    version: int

    @computed_field(description="复议/诉讼 · appeal kind label")  # type: ignore[prop-decorator]
    @property
    def kind_label(self) -> Term:
        return label(self.kind)  # type: ignore[return-value]

    @computed_field(description="结果 · appeal outcome label")  # type: ignore[prop-decorator]
    @property
    def outcome_label(self) -> Term:
        return label(self.outcome)  # type: ignore[return-value]


def _read(appeal: Appeal, response: Response | None = None) -> AppealRead:
    if response is not None:
        response.headers["ETag"] = etag(appeal.version)
    return AppealRead.model_validate(appeal)


@router.post("/applications/{application_id}/appeals", status_code=status.HTTP_201_CREATED,
             summary="Record a reconsideration or lawsuit (行政复议 / 行政诉讼) about an application",
             response_model=AppealRead, responses=problem_responses(401, 403, 404, 409, 422))
async def create_appeal(application_id: str, body: AppealCreate, session: SessionDep, principal: StaffDep,
                        response: Response) -> AppealRead:
    app = await load_application(session, principal, application_id)
    appeal = await domain.file_appeal(session, app, principal, kind=body.kind.value, filed_on=body.filed_on,
                                      case_no=body.case_no, notes=body.notes)
    return _read(appeal, response)


@router.get("/applications/{application_id}/appeals", summary="Reconsiderations and lawsuits of an application",
            response_model=Page[AppealRead], responses=problem_responses(401, 404, 422))
async def list_appeals(application_id: str, session: SessionDep, principal: StaffDep, request: Request,
                       response: Response, paging: ShortListPaging) -> dict:
    app = await load_application(session, principal, application_id)
    return page_of(request, response, [_read(a) for a in await domain.list_appeals(session, app)], paging,
                   lambda a: a.id)


@router.get("/appeals/{appeal_id}", summary="One reconsideration or lawsuit, with its ETag",
            response_model=AppealRead, responses=problem_responses(401, 404))
async def get_appeal(appeal_id: str, session: SessionDep, principal: StaffDep, response: Response) -> AppealRead:
    appeal, _ = await domain.load_appeal(session, principal, appeal_id)
    return _read(appeal, response)


@router.patch("/appeals/{appeal_id}", summary="Record the outcome of a reconsideration or lawsuit (复议、诉讼结果)",
              response_model=AppealRead, responses=problem_responses(401, 403, 404, 412, 422, 428))
async def update_appeal(appeal_id: str, body: AppealUpdate, session: SessionDep, principal: StaffDep,
                        response: Response, if_match: IfMatch = None) -> AppealRead:
    appeal = await domain.decide_appeal(session, principal, appeal_id, if_match, body.model_dump(exclude_unset=True))
    return _read(appeal, response)
