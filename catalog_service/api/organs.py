"""Thin endpoints of the catalogue: validate, call domain, return a schema."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from catalog_service.deps import IfMatch
from catalog_service.domain import organs as domain
from catalog_service.schemas import OrganCreate, OrganRead, OrganUpdate, VocabularyRead
from catalog_service.vocab import ALL_ENUMS
from services.auth import Principal, require_roles
from services.concurrency import etag
from services.db import SessionDep
from services.errors import problem_responses
from services.pagination import Page, PageParams, page_of, page_params
from services.vocab import vocabulary

PREFIX = "/api/v1/catalog"
router = APIRouter(prefix=PREFIX)

AdminDep = Annotated[Principal, Depends(require_roles("admin"))]


@router.get("/vocabularies", tags=["vocabularies"], summary="Controlled vocabularies (代码表) with Chinese labels",
            response_model=VocabularyRead)
async def list_vocabularies() -> VocabularyRead:
    return VocabularyRead(vocabularies=vocabulary(*ALL_ENUMS))


@router.post("/organs", tags=["organs"], summary="Register an organ (机关名录)", status_code=status.HTTP_201_CREATED,
             response_model=OrganRead, responses=problem_responses(401, 403, 404, 409, 422))
async def create_organ(body: OrganCreate, session: SessionDep, _: AdminDep) -> OrganRead:
    return await domain.organ_read(session, await domain.create_organ(session, body))


@router.get("/organs", tags=["organs"], summary="Organ directory, optionally one organ and its subordinates",
            response_model=Page[OrganRead], responses=problem_responses(404, 422))
async def list_organs(
    session: SessionDep, request: Request, response: Response,
    paging: Annotated[PageParams, Depends(page_params(100, 1000))],
    under: Annotated[str | None, Query(max_length=18, description="Code of an organ: it and all its subordinates")]
    = None,
) -> dict:
    organs = await domain.organ_reads(session, await domain.list_organs(session, under=under))
    return page_of(request, response, organs, paging, lambda o: o.code)


@router.get("/organs/{code}", tags=["organs"], summary="One organ with its 公开指南 contact facts",
            response_model=OrganRead, responses=problem_responses(404))
async def get_organ(code: str, session: SessionDep, response: Response) -> OrganRead:
    organ = await domain.get_organ_by_code(session, code)
    response.headers["ETag"] = etag(organ.version)
    return await domain.organ_read(session, organ)


@router.patch("/organs/{code}", tags=["organs"], summary="Update an organ's directory entry and 公开指南 facts",
              description="`parent_code` moves the organ, with all its subordinates, under another superior organ "
                          "(机构改革); null makes it a top-level organ. Placing an organ under itself or one of its "
                          "own subordinates is refused (422 `organ_hierarchy_cycle`); an unknown superior is 422 "
                          "`invalid_reference`. One `organ.updated` event carries the new `parent_code`.",
              response_model=OrganRead, responses=problem_responses(401, 403, 404, 412, 422, 428))
async def update_organ(code: str, body: OrganUpdate, session: SessionDep, _: AdminDep, response: Response,
                       if_match: IfMatch = None) -> OrganRead:
    organ = await domain.update_organ(session, code, body, if_match)
    response.headers["ETag"] = etag(organ.version)
    return await domain.organ_read(session, organ)
