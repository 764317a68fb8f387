"""Catalogue search (目录检索): one thin endpoint over domain/search.py."""

from typing import Annotated

from fastapi import APIRouter, Query

from catalog_service.deps import SettingsDep
from catalog_service.domain import search as domain
from catalog_service.schemas import DocumentSearchParams, DocumentSearchResult
from services.auth import PrincipalDep
from services.db import SessionDep
from services.errors import problem_responses

PREFIX = "/api/v1/catalog"
router = APIRouter(prefix=PREFIX)


@router.get("/documents", tags=["search"], summary="Search the catalogue (目录检索 · 全文检索)",
            description="Anonymous callers and the public see published records only; catalogue staff may search "
                        "their own organ's records in every state with `scope=organ`. Results carry facet counts "
                        "and highlighted snippets; counts are exact up to 1,000 matches. A public search carries "
                        "`feed_url`, the Atom feed of its filters (订阅此检索).",
            response_model=DocumentSearchResult, responses=problem_responses(401, 422))
async def search_documents(params: Annotated[DocumentSearchParams, Query()], session: SessionDep,
                           principal: PrincipalDep, settings: SettingsDep) -> DocumentSearchResult:
    return await domain.search_documents(session, principal, params, feed_base=settings.atom_feed_url)
