"""全文检索 · search of the disclosure catalogue: ranked Chinese search over the search index (domain/search_index.py,
tantivy), the same on PostgreSQL and SQLite.

Understanding. The query is understood by domain/query.py (folded like the indexed text — NFKC, 繁→简, lower case —
then quoted phrases, 文号 and 索引号 recognised, Chinese cut into words with the catalogue's vocabulary, function
words of questions dropped, synonyms of the search dictionary added) into terms, each with its alternatives.

Matching. Each alternative of a term is matched in the record's text (search_index.MATCH_FIELD: every text field):
a word when every one of its tokens (CJK bigrams; search_index.query_tokens) occurs there — Lucene's `cjk` analyzer
with the AND operator, per word — a quoted phrase, 文号 or 索引号 as the phrase itself; a 文号 term also matches the
record's canonical 文号 key, a 索引号 term its 索引号. Every term must match (AND). When no record has them all, the
search is *relaxed*: records with any of the terms, still ranked — `understood.relaxed` says so
("没有同时包含全部检索词的结果"). All of it in one field, so the engine intersects the words by skipping through
their postings (a word as a union over five fields was read whole: a two-word query cost as much as its commonest
word in every field).

Ranking (the relevance function, `sort=relevance`):
  1. BM25F (k1 1.2, b 0.75; tantivy's BM25 over the field-weighted text): the sum over the matched tokens, a
     token's frequency counting 4 times in the title, 3 times in the 文号/索引号, twice in the keywords, once in the
     summary and body (search_index.FIELD_WEIGHTS: the index repeats each field by its weight);
  2. plus, for each term also in the title, TITLE_BOOST × its BM25 in the title (a title match comes before
     matches in the body only: BM25F's weight alone does not promise that for a long body), plus EXACT_BOOST for a
     record whose 文号 (canonical key) or 索引号 is one the query names — it comes first,
     whatever the brackets — and TITLE_PHRASE_BOOST × BM25 when the title contains the whole query as typed
     (without dropped words);
  3. ties (scores equal to 4 significant digits) then in force before repealed/expired, then newest.
`sort=date`: newest first (publication date; with scope=organ, publication or else creation date).

Counts are exact for any number of matches (`total_is_estimate` stays false; it is kept for clients of the earlier
contract). Facets are exact up to FACET_CAP (10,000) matches: the engine aggregates the facet fields over all of
them. Past the cap they are counted on a uniform sample of FACET_CAP to 2 × FACET_CAP matches — the records whose
sample bucket (CRC-32 of the id, 0–1023, search_index.sample_bucket) is below 1024 / 2^L, one indexed term per
level L (search_index.sample_levels), so the sample's short postings lead the count — and scaled by 2^L; the
response names the sample (`facets_estimated_from`). Aggregating every match of a broad query cost as much as the
search itself.

Visibility. Public scope matches entries of published, unclassified records; staff scope (scope=organ) their own
organ's records in every state (classified only for those who may read them). The index may lag the database by a
moment; what it must never do is show a record that has just left public view. So every search excludes the
records with a search revocation newer than their entry (revoked_ids; models.SearchRevocation, written in the
transaction that withdrew, classified or redacted the record), from results, counts and facets alike — and the page
is read from the base table under the visibility rule again.
"""

import asyncio
import bisect
import html
import math
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

import tantivy
from sqlalchemy import Select, bindparam, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.domain.query import EMPTY_VOCABULARY, Term, UnderstoodQuery, Vocabulary, understand
from catalog_service.domain.search_index import (
    CHAR_FIELDS,
    MATCH_FIELD,
    SAMPLE_BUCKETS,
    SAMPLE_LEVELS,
    SCHEMA,
    query_tokens,
)
from catalog_service.domain.visibility import CLASSIFIED_READERS, is_catalog_staff, visible_condition
from catalog_service.errors import StaffOnlyFilter
from catalog_service.models import Document, Organ, SearchDictionaryState, SearchRevocation, outbox
from catalog_service.schemas import (
    SEARCH_MAX_OFFSET,
    DocumentFilterParams,
    DocumentSearchHit,
    DocumentSearchParams,
    DocumentSearchResult,
    FacetCount,
    FacetSample,
    QueryUnderstanding,
)
from catalog_service.textfold import fold
from catalog_service.vocab import DisclosureAttribute, DocumentStatus, Genre, KeyArea, SubjectCategory, Validity
from services.auth import ANONYMOUS, Principal
from services.errors import UnprocessableEntity
from services.pagination import decode_cursor, encode_cursor, invalid_cursor

__all__ = ["EXACT_BOOST", "TITLE_PHRASE_BOOST", "SearchContext", "SearchSnapshot", "feed_query",
           "feed_url", "newest_public_matches", "organs_query", "read_snapshot", "revoked_ids", "search_documents",
           "search_terms", "snippet"]


EXACT_BOOST = 1000.0  # 文号 / 索引号 named by the query: first, whatever BM25 says
TITLE_BOOST = 4.0  # a term in the title: its BM25 there, times this, added (title matches first)
TITLE_PHRASE_BOOST = 3.0
TIE_DIGITS = 4  # scores equal to this many significant digits are ties, broken by validity then date
TIE_EXTRA = 50  # hits fetched past the page so that ties at its edge are ordered like the rest
SNIPPET_CHARS = 120  # window of public text shown around the first match
SNIPPET_LEAD = 30  # characters shown before the match
SNIPPET_SCAN = 10_000  # only this much of summary and body is loaded to look for the match
FACET_BUCKETS = 10_000  # distinct values per facet aggregated exactly (organs of a province: a few thousand)
FACET_CAP = 10_000  # matches up to which facets are counted exactly; beyond, on a uniform sample of about as many

Q = tantivy.Query
MUST, SHOULD, MUST_NOT = tantivy.Occur.Must, tantivy.Occur.Should, tantivy.Occur.MustNot


# ---------------------------------------------------------------------------------------------- query building

@lru_cache(maxsize=4096)
def search_terms(q: str | None) -> tuple[str, ...]:
    """Every substring a term of the query may match (each alternative once), read without the catalogue's
    dictionary: what a saved search's feed URL and Atom id name. Built for every public search and the same for the
    same text, so it is remembered, not cut again."""
    return tuple(understand(q).substrings)


def _phrase(field: str, folded: str) -> tantivy.Query | None:
    """`folded` as a phrase of the field's tokens; None when it has no token (punctuation only)."""
    tokens = query_tokens(folded)
    if not tokens:
        return None
    if len(tokens) == 1:
        return _token(field, *tokens[0])
    if any(is_regex for _, is_regex in tokens):
        return Q.regex_phrase_query(SCHEMA, field, [t if r else re.escape(t) for t, r in tokens])
    return Q.phrase_query(SCHEMA, field, [t for t, _ in tokens])


def _one_of(clauses: list[tuple[tantivy.Occur, tantivy.Query]]) -> tantivy.Query | None:
    if not clauses:
        return None
    return clauses[0][1] if len(clauses) == 1 else Q.boolean_query(clauses)


def _word(field: str, folded: str) -> tantivy.Query | None:
    """A word of the query: every one of its tokens (CJK bigrams) in the field, scored by BM25 each — as Lucene's
    `cjk` analyzer with the AND operator does, per word. Not a phrase: a word's bigrams apart from each other are
    rare (政务公开: 104,193 records with the phrase, 104,625 with its three bigrams), and a phrase costs the engine
    every position of every bigram."""
    tokens = list(dict.fromkeys(query_tokens(folded)))
    return _one_of([(MUST, _token(field, t, r)) for t, r in tokens])


def _token(field: str, token: str, is_regex: bool) -> tantivy.Query:
    """One token of a word. A lone CJK character at the query's edge (is_regex: any bigram it starts or ends) is,
    in the record's text or title, the character itself in their characters' field (CHAR_FIELDS) — a term, not a
    pattern run over every segment's term dictionary."""
    if not is_regex:
        return Q.term_query(SCHEMA, field, token)
    if field in CHAR_FIELDS:
        return Q.term_query(SCHEMA, CHAR_FIELDS[field], token.replace(".?", ""))
    return Q.regex_query(SCHEMA, field, token)


def _term(term: Term, exact: bool, field: str = MATCH_FIELD) -> tantivy.Query | None:
    """What one term matches in the field: any of its alternatives — a word (_word), or for a quoted phrase or a
    文号 / 索引号 (`exact`) the phrase itself — or in the record's text also its 文号 key / 索引号 exactly, boosted
    to come first."""
    clauses = [(SHOULD, q) for q in ((_phrase(field, alt) if exact else _word(field, alt))
                                     for alt in term.alternatives) if q is not None]
    if field == MATCH_FIELD and term.doc_number:
        clauses.append((SHOULD, Q.boost_query(Q.term_query(SCHEMA, "doc_number_key", term.doc_number), EXACT_BOOST)))
    if field == MATCH_FIELD and term.index_no:
        clauses.append((SHOULD, Q.boost_query(Q.term_query(SCHEMA, "index_no", term.index_no), EXACT_BOOST)))
    return _one_of(clauses)


def _title_phrase(understood: UnderstoodQuery) -> tantivy.Query | None:
    """The whole query as typed (folded, without the dropped function words) as a phrase of the title: a boost,
    never needed."""
    core = understood.folded
    for word in understood.dropped:
        core = core.replace(word, "")
    if len(understood.terms) < 2 or len(core.strip()) < 3:
        return None
    phrase = _phrase("title", core.strip())
    return Q.boost_query(phrase, TITLE_PHRASE_BOOST) if phrase is not None else None


def _text_query(understood: UnderstoodQuery, *, relaxed: bool, ranked: bool = True) -> tantivy.Query | None:
    """Every term (relaxed: any) in the record's text, scored by the relevance function: BM25F in the text, plus
    the title boosts — each term in the title, the whole query as a title phrase — as optional clauses: they rank,
    they never match, and are left out with ranked=False (for counting)."""
    exact = {*understood.phrases, *understood.doc_numbers, *understood.index_nos}
    kinds = [(t, t.text in exact or bool(t.doc_number or t.index_no)) for t in understood.terms]
    terms = [q for q in (_term(t, is_exact) for t, is_exact in kinds) if q is not None]
    if not terms:
        return None
    clauses = [(SHOULD if relaxed else MUST, q) for q in terms]
    if not ranked:
        return _one_of(clauses)
    boosts = [Q.boost_query(q, TITLE_BOOST) for q in (_term(t, is_exact, "title") for t, is_exact in kinds)
              if q is not None]
    title = _title_phrase(understood)
    if title is not None:
        boosts.append(title)
    return Q.boolean_query(clauses + [(SHOULD, q) for q in boosts])


def _filter_query(clauses: list[tantivy.Query]) -> tantivy.Query:
    """Filters do not score: a constant 0 added to the text's BM25."""
    return Q.const_score_query(Q.boolean_query([(MUST, c) for c in clauses]), 0.0)


def _int_eq(field: str, value: int) -> tantivy.Query:
    return Q.term_query(SCHEMA, field, value)


# ---------------------------------------------------------------------------------------------- filters

def organs_query(params: DocumentFilterParams) -> Any:
    """The ids the organ filter stands for: the organ, with include_subordinates also every organ below it (its
    materialised path is a prefix of theirs)."""
    if not params.organ:
        return None
    if params.include_subordinates:
        root = select(Organ.path).where(Organ.code == params.organ).scalar_subquery()
        return select(Organ.id).where(Organ.path.startswith(root))
    return select(Organ.id).where(Organ.code == params.organ)


def _filters(params: DocumentSearchParams, staff: bool, organ_ids: Sequence[str] | None) -> list[tantivy.Query]:
    out: list[tantivy.Query] = []
    if organ_ids is not None:
        out.append(Q.term_set_query(SCHEMA, "organ_id", list(organ_ids)) if organ_ids else Q.empty_query())
    for name in ("subject_category", "genre", "validity", "key_area"):
        value = getattr(params, name)
        if value:
            out.append(Q.term_query(SCHEMA, name, value.value))
    if params.index_no:
        out.append(Q.term_query(SCHEMA, "index_no", params.index_no))
    if params.doc_number:
        out.append(Q.term_query(SCHEMA, "doc_number", params.doc_number))
    if params.year:  # staff: 成文日期, or the creation time when there is none; public: the publication year
        out.append(_int_eq("staff_year" if staff else "pub_year", params.year))
    if staff:
        if params.attribute:
            out.append(Q.term_query(SCHEMA, "attribute", params.attribute.value))
        if params.status:
            out.append(Q.term_query(SCHEMA, "status", params.status.value))
    else:
        for name in ("attribute", "status"):
            if getattr(params, name) is not None:
                raise StaffOnlyFilter(f"The {name} filter is for catalogue staff searching their organ (scope=organ).",
                                      errors=[{"loc": ["query", name], "msg": "only with scope=organ",
                                               "type": "staff_only_filter"}])
    return out


@dataclass(frozen=True)
class SearchSnapshot:
    """What every search reads from the database before the engine: the newest change event (for read-your-writes),
    the search dictionary's version and the search revocations — in one statement (each round trip cost a search
    as much CPU as the engine's own work)."""

    head: int
    dictionary_version: int
    revocations: dict[str, int]  # document id → its newest revocation id


@lru_cache(maxsize=1)
def _snapshot_statement() -> Select[Any]:
    """The snapshot's one statement, built once: it has no parameters (building it cost a search more than
    PostgreSQL's answer to it)."""
    head = select(func.coalesce(func.max(outbox.events.c.id), 0)).scalar_subquery()
    version = (select(func.coalesce(func.max(SearchDictionaryState.version), 0))
               .where(SearchDictionaryState.id == 1).scalar_subquery())
    one = select(head.label("head"), version.label("version")).subquery()
    return (select(one.c.head, one.c.version, SearchRevocation.document_id, SearchRevocation.id)
            .select_from(one).outerjoin(SearchRevocation, true()))


async def read_snapshot(session: AsyncSession) -> SearchSnapshot:
    rows = (await session.execute(_snapshot_statement())).all()
    newest: dict[str, int] = {}
    for row in rows:
        if row.document_id is not None:
            newest[row.document_id] = max(row.id, newest.get(row.document_id, 0))
    return SearchSnapshot(head=int(rows[0].head or 0), dictionary_version=int(rows[0].version or 0),
                          revocations=newest)


@dataclass(frozen=True)
class SearchContext:
    """A search's inputs besides its parameters: the index (SearchEngine or IndexReader, caught up), the search
    dictionary as of the snapshot, the 索引号 pattern, the revocations, and organ labels for the organ facet."""

    engine: Any
    vocabulary: Vocabulary = EMPTY_VOCABULARY
    index_no_re: re.Pattern[str] | None = None
    revocations: Mapping[str, int] = dataclass_field(default_factory=dict)
    organ_labels: Mapping[str, tuple[str, str]] = dataclass_field(default_factory=dict)  # organ id → (code, name)
    pool: Executor | None = None  # the search thread pool (检索线程池, app.py); None: asyncio's default executor


def revoked_ids(revocations: Mapping[str, int], searcher: tantivy.Searcher) -> list[str]:
    """Records with a search revocation newer than their index entry: left out of every result, count and facet.
    The revocation table holds a day of changes to public records (indexer.REVOCATION_RETENTION); the entries of
    those records are looked up by id and compared by `mark`."""
    if not revocations:
        return []
    hits = searcher.search(Q.term_set_query(SCHEMA, "id", list(revocations)), len(revocations), count=False).hits
    addresses = [a for _, a in hits]
    marks = dict(zip((searcher.doc(a)["id"][0] for a in addresses),
                     searcher.fast_field_values("mark", addresses), strict=True))
    return [doc_id for doc_id, rev in revocations.items() if doc_id in marks and (marks[doc_id] or 0) < rev]


def _scope(principal: Principal, staff: bool, own_organ_id: str | None) -> list[tantivy.Query]:
    if not staff:
        return [_int_eq("public", 1)]
    own = Q.term_query(SCHEMA, "organ_id", own_organ_id or "")
    return [own] if principal.has_any(CLASSIFIED_READERS) else [own, _int_eq("classified", 0)]


# ---------------------------------------------------------------------------------------------- the use case

def _key(score: float, in_force: int, published: int) -> tuple[Any, ...]:
    rounded = float(f"{score:.{TIE_DIGITS}g}") if score and math.isfinite(score) else 0.0
    return (-rounded, -in_force, -published)


@dataclass
class Matches:
    page: list[str]  # ids of the page, in order
    total: int
    aggregations: dict[str, Any]
    relaxed: bool = False
    facet_sample: FacetSample | None = None  # facets estimated from this sample (more matches than the cap)


async def _matches(session: AsyncSession, context: SearchContext, principal: Principal, params: DocumentSearchParams,
                   understood: UnderstoodQuery, *, facets: bool, facet_cap: int = FACET_CAP) -> Matches:
    """The database tells who may see what (organs of the filter, revocations); the engine does the rest, in the
    search thread pool — tantivy releases the GIL, so one search's engine work overlaps the others' Python, and
    searches beyond the pool's threads wait their turn (FIFO) rather than share the cores."""
    staff = params.scope == "organ" and is_catalog_staff(principal)
    organs = organs_query(params)
    organ_ids = list((await session.execute(organs)).scalars()) if organs is not None else None
    own = ((await session.execute(select(Organ.id).where(Organ.code == principal.organ))).scalar_one_or_none()
           if staff else None)
    index = context.engine.index
    if index is None:
        return Matches([], 0, {})
    searcher = index.searcher()
    filters = [*_scope(principal, staff, own), *_filters(params, staff, organ_ids)]
    return await asyncio.get_running_loop().run_in_executor(
        context.pool, _engine_matches, searcher, params, understood, filters, context.revocations, staff, facets,
        facet_cap)


def _engine_matches(searcher: tantivy.Searcher, params: DocumentSearchParams, understood: UnderstoodQuery,
                    filters: list[tantivy.Query], revocations: Mapping[str, int], staff: bool, facets: bool,
                    facet_cap: int) -> Matches:
    excluded = revoked_ids(revocations, searcher)

    def build(text: tantivy.Query | None) -> tantivy.Query:
        clauses = [(MUST, _filter_query(filters))]
        if text is not None:
            clauses.append((MUST, text))
        if excluded:
            clauses.append((MUST_NOT, Q.term_set_query(SCHEMA, "id", excluded)))
        return Q.boolean_query(clauses)

    def text(relaxed: bool, ranked: bool = True) -> tantivy.Query | None:
        if not understood.terms:
            return None
        found = _text_query(understood, relaxed=relaxed, ranked=ranked)
        return Q.empty_query() if found is None else found  # only punctuation: nothing to match, never everything

    relaxed = False
    query = build(text(relaxed=False))
    wanted = params.offset + params.limit
    by_date = params.sort == "date" or not understood.terms
    if by_date:
        result = searcher.search(query, wanted, count=True, order_by_field="sort_ts", offset=0)
    else:
        result = searcher.search(query, wanted + TIE_EXTRA, count=True)
        if result.count == 0 and len(understood.terms) > 1:
            relaxed = True
            query = build(text(relaxed=True))
            result = searcher.search(query, wanted + TIE_EXTRA, count=True)
    hits = list(result.hits)
    addresses = [a for _, a in hits]
    if not by_date and hits:
        in_force = searcher.fast_field_values("in_force", addresses)
        published = searcher.fast_field_values("sort_ts", addresses)
        order = sorted(range(len(hits)), key=lambda i: _key(hits[i][0], in_force[i] or 0, published[i] or 0))
        addresses = [addresses[i] for i in order]
    page = [searcher.doc(a)["id"][0] for a in addresses[params.offset:wanted]]
    matches = Matches(page, result.count, {}, relaxed)
    if facets and result.count:
        names = ("organ_id", "subject_category", "genre", "key_area", "validity",
                 *(("attribute", "status") if staff else ()))
        spec = {n: {"terms": {"field": n, "size": FACET_BUCKETS}} for n in names}
        spec["year"] = {"terms": {"field": "staff_year" if staff else "pub_year", "size": FACET_BUCKETS}}
        counted = build(text(relaxed, ranked=False))  # the same matches, without the clauses that only rank
        # Past the cap: count the sample level that holds `facet_cap` matches or more (分面估算), and scale up.
        level = min(SAMPLE_LEVELS, int(math.log2(result.count / facet_cap))) if result.count > facet_cap else 0
        if level == 0:
            matches.aggregations = searcher.aggregate(counted, spec)
        else:
            sampled = Q.boolean_query([(MUST, counted), (MUST, Q.term_query(SCHEMA, "sample_level", level))])
            matches.aggregations = _scaled(searcher.aggregate(sampled, spec), 2 ** level)
            buckets = SAMPLE_BUCKETS >> level
            matches.facet_sample = FacetSample(cap=facet_cap, share=round(buckets / SAMPLE_BUCKETS, 6),
                                               buckets=buckets)
    return matches


def _scaled(aggregations: dict[str, Any], factor: float) -> dict[str, Any]:
    return {name: {**agg, "buckets": [{**b, "doc_count": round(b["doc_count"] * factor)} for b in agg["buckets"]]}
            for name, agg in aggregations.items()}


async def search_documents(session: AsyncSession, context: SearchContext, principal: Principal,
                           params: DocumentSearchParams, *, feed_base: str | None = None,
                           facet_cap: int = FACET_CAP) -> DocumentSearchResult:
    """`context`: the index, dictionary and revocations (SearchContext; api/search.py search_context);
    `feed_base`: the absolute URL of the Atom feed; a public search then carries its feed_url (订阅此检索);
    `facet_cap`: matches up to which facets are exact (beyond: estimated from a sample)."""
    params = with_offset_of_cursor(params)
    understood = understand(params.q, context.vocabulary, context.index_no_re)
    staff = params.scope == "organ" and is_catalog_staff(principal)
    matches = await _matches(session, context, principal, params, understood, facets=True, facet_cap=facet_cap)
    page_ids, total = matches.page, matches.total
    items: list[DocumentSearchHit] = []
    if page_ids:
        statement = _page_select(visible_condition(principal)) if staff else _public_page_statement()
        rows = (await session.execute(statement, {"ids": page_ids})).all()
        by_id = {r.id: r for r in rows}
        terms = understood.substrings
        for doc_id in page_ids:
            r = by_id.get(doc_id)
            if r is None:  # left view after the index read it (the base table decides)
                continue
            items.append(DocumentSearchHit(
                id=r.id, index_no=r.index_no, title=r.public_title, doc_number=r.doc_number, organ_code=r.code,
                organ_name=r.name, genre=r.genre, subject_category=r.subject_category, published_at=r.published_at,
                validity=r.validity,
                snippet=snippet([(r.public_summary or "")[:SNIPPET_SCAN], (r.public_body or "")[:SNIPPET_SCAN]],
                                terms),
                status=r.status if staff else None, attribute=r.attribute if staff else None))
    following = params.offset + params.limit
    more = following < total and following <= SEARCH_MAX_OFFSET
    return DocumentSearchResult(items=items, total=total, next_cursor=encode_cursor([following]) if more else None,
                                has_more=more, total_is_estimate=False,
                                limit=params.limit, offset=params.offset,
                                facets=await _facets(session, matches.aggregations,
                                                     STAFF_FACETS if staff else FACETS, context.organ_labels),
                                facets_estimated_from=matches.facet_sample,
                                # A staff search has no feed: the feed is public, and would not show their drafts.
                                feed_url=feed_url(feed_base, params) if feed_base and not staff else None,
                                understood=_understanding(understood, matches.relaxed))


@lru_cache(maxsize=1)
def _public_page_statement() -> Select[Any]:
    """The public's page statement, built once (a staff member's names their organ: built per search)."""
    return _page_select(visible_condition(ANONYMOUS, staff_view=False))


def _page_select(visible: Any) -> Select[Any]:
    return (select(Document.id, Document.index_no, Document.public_title, Document.doc_number, Organ.code,
                   Organ.name, Document.genre, Document.subject_category, Document.published_at,
                   Document.validity, Document.status, Document.attribute,
                   Document.public_summary, Document.public_body)
            .join(Organ, Organ.id == Document.organ_id)
            .where(Document.id.in_(bindparam("ids", expanding=True)), visible))


def with_offset_of_cursor(params: DocumentSearchParams) -> DocumentSearchParams:
    """The search pages by position (its order is a ranking, not a key), so its cursor carries the next offset;
    `after` and a numbered page's `offset` are one or the other."""
    if params.after is None:
        return params
    if params.offset:
        raise UnprocessableEntity("Give `after` or `offset`, not both. after 与 offset 不能同时使用。", errors=[
            {"loc": ["query", "offset"], "msg": "与 after 不能同时使用 · not together with after", "type": "conflict"}])
    (offset,) = decode_cursor(params.after, 1)
    if not isinstance(offset, int) or not 0 <= offset <= SEARCH_MAX_OFFSET:
        raise invalid_cursor()
    return params.model_copy(update={"offset": offset, "after": None})


def _understanding(understood: UnderstoodQuery, relaxed: bool = False) -> QueryUnderstanding:
    return QueryUnderstanding(
        words=[w for w in understood.words if w not in understood.phrases], phrases=list(understood.phrases),
        doc_numbers=list(understood.doc_numbers), index_nos=list(understood.index_nos),
        synonyms_used={k: list(v) for k, v in understood.synonyms_used.items()}, dropped=list(understood.dropped),
        relaxed=relaxed)


async def newest_public_matches(session: AsyncSession, context: SearchContext, params: DocumentFilterParams,
                                limit: int) -> list[str]:
    """The ids of the `limit` newest (by publication) records the public search finds with these filters: the
    search's own understanding and matching, always as the anonymous public sees the catalogue, whoever asks."""
    public = DocumentSearchParams(**params.model_dump(include=set(DocumentFilterParams.model_fields)),
                                  sort="date", limit=limit)
    matches = await _matches(session, context, ANONYMOUS, public,
                             understand(public.q, context.vocabulary, context.index_no_re), facets=False)
    return matches.page


# ---------------------------------------------------------------------------------------------- saved searches

def feed_query(params: DocumentFilterParams) -> list[tuple[str, str]]:
    """The normalised public filters of a search (检索订阅), sorted by name: the query folded to its distinct terms
    (what the search matches on), defaults and filters without effect left out (include_subordinates without an
    organ), vocabulary codes. Two searches with the same matches by construction get the same list, so a saved
    search has one feed URL and one Atom id whichever way it was typed."""
    values: dict[str, Any] = {
        "q": " ".join(search_terms(params.q)) or None,
        "organ": params.organ,
        "include_subordinates": "true" if params.organ and params.include_subordinates else None,
        "subject_category": params.subject_category, "genre": params.genre, "key_area": params.key_area,
        "validity": params.validity, "year": params.year, "index_no": params.index_no,
        "doc_number": params.doc_number}
    return sorted((name, str(getattr(value, "value", value))) for name, value in values.items()
                  if value is not None)


def feed_url(feed_base: str, params: DocumentFilterParams) -> str:
    """The feed of a search's public filters: `feed_base` (absolute, from configuration) and the normalised query."""
    query = urlencode(feed_query(params), quote_via=quote)
    return f"{feed_base}?{query}" if query else feed_base


# ---------------------------------------------------------------------------------------------- facets

FACETS = ("organ", "subject_category", "genre", "key_area", "year", "validity")
STAFF_FACETS = (*FACETS, "attribute", "status")
_ENUMS: dict[str, Any] = {"subject_category": SubjectCategory, "genre": Genre, "key_area": KeyArea,
                          "validity": Validity, "attribute": DisclosureAttribute, "status": DocumentStatus}


def _label(facet: str, value: str, label: str | None) -> str:
    if label:
        return label
    if facet == "year":
        return f"{value}年"
    try:
        return _ENUMS[facet](value).zh
    except ValueError:
        return value


async def _facets(session: AsyncSession, aggregations: dict[str, Any], names: Sequence[str],
                  organ_labels: Mapping[str, tuple[str, str]]) -> dict[str, list[FacetCount]]:
    """The engine's aggregations as facet counts, most frequent first (years newest first). They count exactly the
    records the list pages through; a record with two key areas counts for both, as the key_area filter would
    find it under either. Organs are shown by code and name."""
    out: dict[str, list[FacetCount]] = {name: [] for name in names}
    organ_buckets = aggregations.get("organ_id", {}).get("buckets", [])
    organs = {b["key"]: organ_labels[b["key"]] for b in organ_buckets if b["key"] in organ_labels}
    unknown = [b["key"] for b in organ_buckets if b["key"] not in organs]
    if unknown:  # an organ written past the dictionary's version (it is bumped with every organ created or renamed)
        organs |= {r.id: (r.code, r.name) for r in (await session.execute(
            select(Organ.id, Organ.code, Organ.name).where(Organ.id.in_(unknown)))).all()}
    for b in organ_buckets:
        if b["key"] in organs:
            code, name = organs[b["key"]]
            out["organ"].append(FacetCount(value=code, label=name, count=b["doc_count"]))
    for name in names:
        if name == "organ":
            continue
        for b in aggregations.get(name, {}).get("buckets", []):
            value = str(b["key"])
            if name == "year" and value == "0":
                continue
            out[name].append(FacetCount(value=value, label=_label(name, value, None), count=b["doc_count"]))
    for name, counts in out.items():
        counts.sort(key=(lambda f: f.value) if name == "year" else (lambda f: (-f.count, f.value)),
                    reverse=name == "year")
    return out


# ---------------------------------------------------------------------------------------------- snippets

@lru_cache(maxsize=65_536)
def _folded_length(ch: str) -> int:
    return len(fold(ch))


def _folded_offsets(text_: str) -> list[int]:
    """offsets[i] = length of fold(text_[:i]) when every character folds on its own (NFKC and lower case may
    change the length: '…' → '...'), for mapping positions in the folded text back to the original."""
    out = [0]
    for ch in text_:
        out.append(out[-1] + _folded_length(ch))
    return out


def _original_span(offsets: list[int], start: int, end: int) -> tuple[int, int]:
    """The original character span covering folded positions start..end."""
    return bisect.bisect_right(offsets, start) - 1, bisect.bisect_left(offsets, end)


def _highlight(piece: str, terms: Sequence[str]) -> str:
    folded = fold(piece)
    offsets = None if len(folded) == len(piece) else _folded_offsets(piece)
    spans: list[tuple[int, int]] = []
    for term in terms:
        at = folded.find(term)
        while at >= 0:
            spans.append((at, at + len(term)) if offsets is None else _original_span(offsets, at, at + len(term)))
            at = folded.find(term, at + len(term))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    out, cursor = [], 0
    for start, end in merged:
        out.append(html.escape(piece[cursor:start]))
        out.append(f"<em>{html.escape(piece[start:end])}</em>")
        cursor = end
    out.append(html.escape(piece[cursor:]))
    return "".join(out)


def _first_match(text_: str, terms: Sequence[str]) -> int | None:
    """Where the snippet's window goes: the first place a term occurs as written (most text is folded already —
    Simplified, half-width — so no folding of a body up to SNIPPET_SCAN characters is needed: folding all 20
    bodies of a page was a search's largest cost in Python), else the first place it occurs once the text is folded
    (繁體, full-width forms), as an offset into the original text. None: no term in this text."""
    verbatim = [i for i in (text_.find(t) for t in terms) if i >= 0]
    if verbatim:
        return min(verbatim)
    folded = fold(text_)
    hits = [i for i in (folded.find(t) for t in terms) if i >= 0]
    if not hits:
        return None
    first = min(hits)
    if len(folded) != len(text_):
        first = _original_span(_folded_offsets(text_), first, first)[0]
    return first


def snippet(texts: Sequence[str | None], terms: Sequence[str]) -> str:
    """An HTML fragment of public text: around the first match (_first_match) in the first text that has one, else
    the start of the first non-empty text. Escaped; terms in <em>; '…' where cut."""
    candidates = [t for t in texts if t]
    if not candidates:
        return ""
    for text_ in candidates:
        first = _first_match(text_, terms)
        if first is None:
            continue
        start = max(0, first - SNIPPET_LEAD)
        end = min(len(text_), start + SNIPPET_CHARS)
        return ("…" if start else "") + _highlight(text_[start:end], terms) + ("…" if end < len(text_) else "")
    text_ = candidates[0]
    return html.escape(text_[:SNIPPET_CHARS]) + ("…" if len(text_) > SNIPPET_CHARS else "")
