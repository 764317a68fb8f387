"""Exchange formats (交换格式) for integrating agencies: the published catalogue as DCAT JSON-LD or as the 集约化
information-resource library's metadata records, their schemas and validators (domain/exchange.py)."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from catalog_service.deps import PublicSessionDep, SettingsDep
from catalog_service.domain import exchange
from services.errors import problem_responses
from services.pagination import Page, PageParams, page_params, paged

PREFIX = "/api/v1/catalog"
router = APIRouter(prefix=PREFIX, tags=["exchange"])
JSON_LD = "application/ld+json"
ProfileQuery = Annotated[exchange.Profile, Query(description=(
    "`dcat-jsonld`: JSON-LD with W3C DCAT 3 / DCMI terms (dcat:Dataset, attachments as dcat:Distribution, gk: for "
    "文号, 有效性 …); `jiyuehua`: the 集约化 统一信息资源库 metadata record (索引号, 名称, 发布机构, 成文日期 …)"))]

EXPORT_DESCRIPTION = """\
The published catalogue (公开版本: redactions applied, never a staff field) in an exchange profile, in id order,
paged per the pagination contract (`after`, `limit`; `Link: rel="next"`). `organ` narrows to one lead organ's
records. `dcat-jsonld` pages carry the JSON-LD `@context` once, at the top (`items` is `@graph`); asked with
`Accept: application/ld+json` the answer has that media type. `GET …/export/schema` gives each profile's JSON Schema
and `POST …/export/validate` checks records against it. `python -m catalog_service.importer` reads either profile
(NDJSON of records, or a saved page) into another catalogue with every public field.
"""


class ExportPage(Page[dict[str, Any]]):
    context: dict[str, Any] | None = Field(None, alias="@context",
                                           description="JSON-LD context (dcat-jsonld); null in the jiyuehua profile")
    profile: str


class ValidationAnswer(BaseModel):
    profile: str
    valid: bool
    records: int = Field(description="Records checked")
    errors: list[dict[str, Any]] = Field(description="{record, loc, msg, type} of each error; empty when valid")


def _links(settings) -> exchange.Links:
    return exchange.Links(settings.public_base_url, settings.document_link)


def _media_type(profile: str, accept: str | None) -> str:
    wants_ld = profile == "dcat-jsonld" and accept is not None and JSON_LD in accept
    return JSON_LD if wants_ld else "application/json"


@router.get("/export", summary="Export the published catalogue in an exchange profile (交换格式导出)",
            response_model=ExportPage, response_model_by_alias=True, description=EXPORT_DESCRIPTION,
            responses={200: {"content": {JSON_LD: {}}}, **problem_responses(404, 422)})
async def export_records(
    request: Request, response: Response, session: PublicSessionDep, settings: SettingsDep, profile: ProfileQuery,
    paging: Annotated[PageParams, Depends(page_params(50, 100))],
    organ: Annotated[str | None, Query(min_length=1, max_length=32, description="Code of the lead organ")] = None,
    accept: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    items, next_cursor = await exchange.export_page(session, profile, _links(settings), organ_code=organ,
                                                    after=paging.after, limit=paging.limit)
    body = paged(request, response, items, next_cursor, profile=profile)
    # Every field of the page is always sent (the OpenAPI marks them required): the context is null in 集约化.
    body = {"@context": exchange.CONTEXT if profile == "dcat-jsonld" else None, **body}
    headers = {k: v for k, v in response.headers.items() if k.lower() == "link"}
    return JSONResponse(body, media_type=_media_type(profile, accept), headers=headers | {"Vary": "Accept"})


@router.get("/export/schema", summary="JSON Schema of an exchange profile's record (交换格式模式)",
            responses=problem_responses(422))
async def export_schema(profile: ProfileQuery) -> dict[str, Any]:
    return exchange.schema(profile)


@router.post("/export/validate", summary="Check records against an exchange profile (交换格式校验)",
             response_model=ValidationAnswer, responses=problem_responses(413, 422))
async def validate_records(
    profile: ProfileQuery,
    body: Annotated[Any, Body(description="One record, a list of records, or an export page (`items`)")],
) -> ValidationAnswer:
    records = body["items"] if isinstance(body, dict) and isinstance(body.get("items"), list) else \
        body if isinstance(body, list) else [body]
    errors = [{"record": i, **e} for i, record in enumerate(records) for e in exchange.validate(profile, record)]
    return ValidationAnswer(profile=profile, valid=not errors, records=len(records), errors=errors)


@router.get("/documents/{document_id}/export", summary="One published record in an exchange profile",
            responses={200: {"content": {JSON_LD: {}, "application/json": {}}}, **problem_responses(404, 422)})
async def export_document(
    document_id: str, session: PublicSessionDep, settings: SettingsDep, profile: ProfileQuery,
    accept: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    record = await exchange.export_one(session, profile, _links(settings), document_id)
    if profile == "dcat-jsonld":
        record = {"@context": exchange.CONTEXT, **record}
    # no-cache as GET /documents/{id}: a withdrawn record must stop being served at once.
    return JSONResponse(record, media_type=_media_type(profile, accept),
                        headers={"Cache-Control": "no-cache", "Vary": "Accept"})


