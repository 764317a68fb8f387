"""检索词典 · the search dictionary's synonym entries (admin): thin endpoints over domain/synonyms.py."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from catalog_service.deps import IfMatch
from catalog_service.domain import synonyms as domain
from catalog_service.schemas import SynonymCreate, SynonymRead, SynonymUpdate
from services.auth import Principal, require_roles
from services.concurrency import etag
from services.db import SessionDep
from services.errors import problem_responses
from services.pagination import Page, PageParams, page_params, paged

PREFIX = "/api/v1/catalog/search/synonyms"
router = APIRouter(prefix=PREFIX, tags=["search"])

AdminDep = Annotated[Principal, Depends(require_roles("admin"))]
_APPLIED = ("Applied at query time: the next search uses it, no reindexing. Every change bumps the dictionary "
            "version and is audited.")


@router.get("", summary="Synonym entries of the search dictionary (检索词典 · 同义词)",
            response_model=Page[SynonymRead], responses=problem_responses(401, 403, 422))
async def list_synonyms(session: SessionDep, _: AdminDep, request: Request, response: Response,
                        paging: Annotated[PageParams, Depends(page_params(50))]) -> dict:
    items, next_cursor = await domain.list_synonyms(session, paging.after, paging.limit)
    return paged(request, response, [SynonymRead.model_validate(s) for s in items], next_cursor)


@router.post("", summary="Add a synonym entry (新增同义词)", description=_APPLIED, status_code=status.HTTP_201_CREATED,
             response_model=SynonymRead, responses=problem_responses(401, 403, 422))
async def create_synonym(body: SynonymCreate, session: SessionDep, _: AdminDep, response: Response) -> SynonymRead:
    synonym = await domain.create_synonym(session, body)
    response.headers["ETag"] = etag(synonym.version)
    return SynonymRead.model_validate(synonym)


@router.get("/{synonym_id}", summary="One synonym entry", response_model=SynonymRead,
            responses=problem_responses(401, 403, 404))
async def get_synonym(synonym_id: str, session: SessionDep, _: AdminDep, response: Response) -> SynonymRead:
    synonym = await domain.get_synonym(session, synonym_id)
    response.headers["ETag"] = etag(synonym.version)
    return SynonymRead.model_validate(synonym)


@router.patch("/{synonym_id}", summary="Change a synonym entry (修改同义词)", description=_APPLIED,
              response_model=SynonymRead, responses=problem_responses(401, 403, 404, 412, 422, 428))
async def update_synonym(synonym_id: str, body: SynonymUpdate, session: SessionDep, _: AdminDep, response: Response,
                         if_match: IfMatch = None) -> SynonymRead:
    synonym = await domain.update_synonym(session, synonym_id, body, if_match)
    response.headers["ETag"] = etag(synonym.version)
    return SynonymRead.model_validate(synonym)


@router.delete("/{synonym_id}", summary="Delete a synonym entry (删除同义词)", description=_APPLIED,
               status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(401, 403, 404, 412, 428))
async def delete_synonym(synonym_id: str, session: SessionDep, _: AdminDep, if_match: IfMatch = None) -> Response:
    await domain.delete_synonym(session, synonym_id, if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
