"""Catalogue search (目录检索): one thin endpoint over domain/search.py."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.deps import SettingsDep
from catalog_service.domain import search as domain
from catalog_service.domain.query import index_no_pattern
from catalog_service.schemas import DocumentSearchParams, DocumentSearchResult
from services.auth import PrincipalDep
from services.db import SessionDep
from services.errors import problem_responses
from services.pagination import reject_foreign_paging, set_next_link

PREFIX = "/api/v1/catalog"
router = APIRouter(prefix=PREFIX)


@router.get("/documents", tags=["search"], summary="Search the catalogue (目录检索 · 全文检索)",
            description="Anonymous callers and the public see published records only; catalogue staff may search "
                        "their own organ's records in every state with `scope=organ`. Results carry facet counts "
                        "and highlighted snippets; counts are exact up to 1,000 matches. `understood` says how the "
                        "query was read (words, exact phrases, 文号, 索引号, synonyms, dropped words) · 检索式理解. A "
                        "public search carries `feed_url`, the Atom feed of its filters (订阅此检索).",
            response_model=DocumentSearchResult, responses=problem_responses(401, 422))
async def search_documents(params: Annotated[DocumentSearchParams, Query()], session: SessionDep,
                           principal: PrincipalDep, settings: SettingsDep, request: Request,
                           response: Response) -> DocumentSearchResult:
    reject_foreign_paging(request, ("offset",))
    result = await domain.search_documents(session, principal, params, *await dictionary(request, session, params.q),
                                           feed_base=settings.atom_feed_url)
    if result.has_more and result.next_cursor:
        set_next_link(request, response, result.next_cursor)
    return result


async def dictionary(request: Request, session: AsyncSession, q: str | None) -> tuple[Any, ...]:
    """What understanding a query needs (domain/query.py): the search dictionary's current version and the 索引号
    pattern of the configured template; nothing without a query. The search and its Atom feed share it, so a saved
    search's feed finds what the search finds."""
    if not q:
        return ()
    return (await request.state.search_vocabulary.current(session),
            index_no_pattern(request.state.settings.index_no_template))
