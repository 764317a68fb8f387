"""Catalogue search (目录检索): one thin endpoint over domain/search.py."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.deps import PublicSessionDep, SettingsDep
from catalog_service.domain import search as domain
from catalog_service.domain.indexer import reconcile
from catalog_service.domain.query import index_no_pattern
from catalog_service.schemas import DocumentSearchParams, DocumentSearchResult
from services.auth import Principal, PrincipalDep
from services.db import SessionDep
from services.errors import problem_responses
from services.pagination import reject_foreign_paging, set_next_link

PREFIX = "/api/v1/catalog"
router = APIRouter(prefix=PREFIX)


@router.get("/documents", tags=["search"], summary="Search the catalogue (目录检索 · 全文检索)",
            description="Anonymous callers and the public see published records only; catalogue staff may search "
                        "their own organ's records in every state with `scope=organ`. Ranked by BM25 with field "
                        "weights; results carry exact totals and facet counts and highlighted snippets. "
                        "`understood` says how the query was read (words, exact phrases, 文号, 索引号, synonyms, "
                        "dropped words) · 检索式理解. A "
                        "public search carries `feed_url`, the Atom feed of its filters (订阅此检索).",
            response_model=DocumentSearchResult, responses=problem_responses(401, 422))
async def search_documents(params: Annotated[DocumentSearchParams, Query()], session: PublicSessionDep,
                           principal: PrincipalDep, settings: SettingsDep, request: Request,
                           response: Response) -> DocumentSearchResult:
    reject_foreign_paging(request, ("offset",))
    result = await domain.search_documents(session, await search_context(request, session, principal), principal,
                                           params,
                                           feed_base=settings.atom_feed_url, facet_cap=settings.search_facet_cap)
    if result.has_more and result.next_cursor:
        set_next_link(request, response, result.next_cursor)
    return result


async def search_context(request: Request, session: AsyncSession, principal: Principal) -> domain.SearchContext:
    """What a search needs besides its parameters, shared by the search and its Atom feed (so a saved search's feed
    finds what the search finds): one snapshot read (newest change, dictionary version, revocations); the index
    with the few changes pending applied first (read-your-writes; a bulk import in progress is left to the
    indexer); the dictionary of that version and the 索引号 pattern of the configured template."""
    snapshot = await domain.read_snapshot(session)
    engine = request.state.search_engine
    # Read-your-writes is for the writer: an anonymous caller wrote nothing, so with a shared index (the indexer
    # process applies, a search would wait for it) the public is answered from the index as it stands.
    max_pending = request.state.settings.search_catch_up_on_read
    if principal.is_anonymous and not engine.applies_pending_itself:
        max_pending = 0
    await engine.catch_up(max_pending=max_pending, head=snapshot.head)
    vocabulary, organ_labels = await request.state.search_vocabulary.current_with_organs(
        session, snapshot.dictionary_version)
    return domain.SearchContext(engine=engine, vocabulary=vocabulary,
                                index_no_re=index_no_pattern(request.state.settings.index_no_template),
                                revocations=snapshot.revocations, organ_labels=organ_labels,
                                pool=request.state.search_pool)


# ---- 检索索引运维 · the search index, for operators (admin) -------------------------------------------------------

class SearchIndexStatus(BaseModel):
    position: int = Field(description="The last catalogue change event applied to this process's index")
    head: int = Field(description="The newest change event of the catalogue")
    lag_events: int
    lag_seconds: float = Field(description="Age of the oldest change not yet indexed (0 when caught up)")
    entries: int = Field(description="Records in the index (every state: staff search their organ's drafts)")
    location: str = Field(description="The index directory, or `memory`")
    rebuild: dict[str, Any] | None = Field(None, description="The last rebuild: state running/done/failed, times")


@router.get("/search/index", tags=["search"], summary="Search index status (检索索引状态)",
            response_model=SearchIndexStatus, responses=problem_responses(401, 403))
async def search_index_status(request: Request) -> SearchIndexStatus:
    return SearchIndexStatus(**await request.state.search_engine.status())


@router.post("/search/index/catch-up", tags=["search"], summary="Apply pending changes to the search index now",
             description="Runs the indexer once to the newest change (what the background indexer does every "
                         "half second); answers with the status after it.",
             response_model=SearchIndexStatus, responses=problem_responses(401, 403))
async def catch_up_search_index(request: Request) -> SearchIndexStatus:
    engine = request.state.search_engine
    await engine.catch_up()
    return SearchIndexStatus(**await engine.status())


@router.get("/search/index/reconciliation", tags=["search"], summary="Reconcile the search index (检索索引对账)",
            description="Per organ, the number of records and a SHA-256 over their (id, version) in the catalogue "
                        "and in this process's index; the ids missing from the index, stale in it (older version "
                        "or older than a search revocation) and extra. Reads the whole index.",
            response_model=dict[str, Any], responses=problem_responses(401, 403))
async def reconcile_search_index(request: Request, session: SessionDep) -> dict[str, Any]:
    return await reconcile(session, request.state.search_engine.index)


@router.post("/search/index/rebuild", tags=["search"], status_code=202,
             summary="Rebuild the search index (重建检索索引)",
             description="Builds a new index from the catalogue beside the one in use and swaps it in when it has "
                         "caught up; search answers from the old index until then. Progress in "
                         "GET /search/index (`rebuild`). One rebuild at a time. `wait=true`: answer when done "
                         "(for scripts).",
             response_model=SearchIndexStatus, responses=problem_responses(401, 403))
async def rebuild_search_index(request: Request, wait: bool = False) -> SearchIndexStatus:
    engine = request.state.search_engine
    await engine.request_rebuild(wait=wait)
    return SearchIndexStatus(**await engine.status())
