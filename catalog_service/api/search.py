"""Catalogue search (目录检索): one thin endpoint over domain/search.py."""

from typing import Annotated

from fastapi import APIRouter, Query, Request

from catalog_service.domain import search as domain
from catalog_service.domain.query import index_no_pattern
from catalog_service.schemas import DocumentSearchParams, DocumentSearchResult
from services.auth import PrincipalDep
from services.db import SessionDep
from services.errors import problem_responses

PREFIX = "/api/v1/catalog"
router = APIRouter(prefix=PREFIX)


@router.get("/documents", tags=["search"], summary="Search the catalogue (目录检索 · 全文检索)",
            description="Anonymous callers and the public see published records only; catalogue staff may search "
                        "their own organ's records in every state with `scope=organ`. Results carry facet counts "
                        "and highlighted snippets; counts are exact up to 1,000 matches. `understood` says how the "
                        "query was read (words, exact phrases, 文号, 索引号, synonyms, dropped words) · 检索式理解.",
            response_model=DocumentSearchResult, responses=problem_responses(401, 422))
async def search_documents(params: Annotated[DocumentSearchParams, Query()], session: SessionDep,
                           principal: PrincipalDep, request: Request) -> DocumentSearchResult:
    vocabulary = await request.state.search_vocabulary.current(session) if params.q else None
    return await domain.search_documents(session, principal, params, *(
        (vocabulary, index_no_pattern(request.state.settings.index_no_template)) if vocabulary else ()))
