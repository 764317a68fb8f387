"""Letters (文书) of an application: list, HTML, PDF. Staff of the application's organ here; the applicant reads the
letters addressed to them through api/public.py (tracking number + 查询码, or signed in), answered by the same
two response builders below."""

import asyncio
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field, computed_field

from request_service.domain import letters as domain
from request_service.domain.applications import load_application
from request_service.models import Application, Letter
from request_service.vocab import LetterKind
from services.auth import Principal, PrincipalDep, require_staff
from services.db import SessionDep
from services.errors import problem_responses
from services.pagination import Page, ShortListPaging, page_of
from services.vocab import Term, label

PREFIX = "/api/v1/requests"
router = APIRouter(prefix=PREFIX, tags=["letters"])
# A letter is a static page: no scripts, no external resources (its values are escaped anyway).
LETTER_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


async def _staff(principal: PrincipalDep) -> Principal:
    return require_staff(principal)


StaffDep = Annotated[Principal, Depends(_staff)]


class LetterRead(BaseModel):
    id: str
    application_id: str
    kind: LetterKind
    title: str = Field(description="文书名称, e.g. 政府信息公开申请答复书")
    number: str | None = Field(None, description="文号, e.g. 测试市财政局依复〔2026〕12号 (null: issued before 文号)")
    issued_on: date
    sha256: str = Field(description="SHA-256 of the stored HTML: the letter as issued")
    created_by: str
    created_at: datetime
    delivery_channel: str | None = Field(None, description="notices whose window runs from receipt: electronic "
                                                           "(delivered the day sent) | post (signed for)")
    delivered_on: date | None = Field(None, description="送达: the applicant's receipt; null = not yet delivered")

    @computed_field(description="文书类型 · letter kind label")  # type: ignore[prop-decorator]
    @property
    def kind_label(self) -> Term:
        return label(self.kind)  # type: ignore[return-value]

    @classmethod
    def of(cls, letter: Letter) -> "LetterRead":
        return cls(id=letter.id, application_id=letter.application_id, kind=LetterKind(letter.kind),
                   title=LetterKind(letter.kind).zh, number=letter.number, issued_on=letter.issued_on,
                   sha256=letter.sha256,
                   created_by=letter.created_by, created_at=letter.created_at,
                   delivery_channel=letter.delivery_channel, delivered_on=letter.delivered_on)


@router.get("/applications/{application_id}/letters", summary="Letters issued on an application (文书列表)",
            response_model=Page[LetterRead], responses=problem_responses(401, 404, 422))
async def list_letters(application_id: str, session: SessionDep, principal: StaffDep, request: Request,
                       response: Response, paging: ShortListPaging) -> dict:
    app = await load_application(session, principal, application_id)
    return page_of(request, response, [LetterRead.of(letter) for letter in await domain.letters_of(session, app.id)],
                   paging, lambda letter: letter.id)


# Registered before the HTML route: "{letter_id}" alone would also match "<id>.pdf".
@router.get("/applications/{application_id}/letters/{letter_id}.pdf", summary="A letter as PDF",
            response_class=Response, responses={200: {"content": {"application/pdf": {}}},
                                                **problem_responses(401, 404)})
async def get_letter_pdf(application_id: str, letter_id: str, session: SessionDep, principal: StaffDep) -> Response:
    app = await load_application(session, principal, application_id)
    return await letter_pdf(app, await domain.get_letter(session, app.id, letter_id))


@router.get("/applications/{application_id}/letters/{letter_id}", summary="A letter as issued (HTML)",
            response_class=HTMLResponse, responses={200: {"content": {"text/html": {}}},
                                                    **problem_responses(401, 404)})
async def get_letter_html(application_id: str, letter_id: str, session: SessionDep,
                          principal: StaffDep) -> HTMLResponse:
    app = await load_application(session, principal, application_id)
    return letter_html(await domain.get_letter(session, app.id, letter_id))


async def letter_pdf(app: Application, letter: Letter) -> Response:
    stem = "".join(c for c in app.tracking_no if c.isascii() and (c.isalnum() or c in "-_")) or letter.id
    # Off the event loop: a letter with characters no letter had before converts their glyphs (letter_pdf.py).
    body = await asyncio.to_thread(domain.render_pdf, letter)
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{stem}-{letter.kind}.pdf"',
                             "X-Letter-SHA256": letter.sha256})


def letter_html(letter: Letter) -> HTMLResponse:
    return HTMLResponse(letter.html, headers={"X-Letter-SHA256": letter.sha256, "Content-Security-Policy": LETTER_CSP})
