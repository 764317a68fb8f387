"""全文检索 · search of the disclosure catalogue, on PostgreSQL and SQLite with the same results.

Matching. The query is understood by domain/query.py (folded like the indexed text — NFKC, 繁→简, lower case —
then quoted phrases, 文号 and 索引号 recognised, Chinese cut into words, function words of questions dropped,
synonyms of the search dictionary added) into terms. A record matches when its `search_text` (the folded public
projection: title, 文号, 索引号, summary, keywords, body after redaction) contains every term as a substring, where
a term is satisfied by any of its alternatives (its synonyms) and a 文号 term also by the record's canonical 文号
key (document.doc_number_key): exact substring recall of each word (performance.md §3.2, finding 6). The original
title and body are never searched.

Each alternative of a term takes the index that can answer it, the term is their OR (performance.md §5.1–5.2;
migration catalog_0002):

  PostgreSQL  a run of 3+ letters/digits/CJK  →  `search_text LIKE '%t%'`, pg_trgm GIN;
              otherwise (1–2 characters)      →  `gongkai_bigrams(search_text) @> keys(t)` AND the LIKE recheck,
                                                 the unigram+bigram GIN.
              A term the planner expects in very many rows (EXPLAIN, broad_terms) gets no index condition but
              `strpos(search_text, t) > 0`: scanning finds enough of its matches sooner than an index lists them.
  SQLite      3+ characters                   →  FTS5 trigram `MATCH '"t"'`;
              1–2 characters                  →  LIKE on the base table (never on the FTS table: 3.40.1 returns
                                                 no rows).

Visibility. Every statement starts from visibility.visible_condition (the one rule): `public` scope is published,
unclassified records; `organ` scope (catalogue staff only) is the caller's own organ in every state.

Bounded work (performance.md §6 T3). One statement (the summary) reads at most COUNT_CAP + 1 matches, in no
particular order so that the scan stops early, and returns, computed in the database, the total, the facet counts
and the ids of the page: about a hundred small rows, whatever the number of matches. With at most COUNT_CAP matches
all of it is exact. With more, total is COUNT_CAP ("1,000+") and a second summary over the RELEVANCE_WINDOW newest
matches gives the facets (an estimate, flagged) and the page (capped_summary). Then one statement loads the page.
When the window overflows, the first summary skips its facets and ranks (a one-time filter on the window's size):
they would be discarded. On PostgreSQL a `SET LOCAL plan_cache_mode`, one EXPLAIN of the table and one per term come
first.

Relevance is simple and documented: a record whose 文号 (canonical key) or 索引号 is one the query names comes
first, then records whose (folded, public) title contains every term (one of its alternatives), then newest
first. With more than COUNT_CAP matches it ranks only the RELEVANCE_WINDOW newest; past them, newest first.
"""

import bisect
import html
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    cast,
    column,
    false,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement, ColumnElement

from catalog_service.domain.query import EMPTY_VOCABULARY, Term, UnderstoodQuery, Vocabulary, understand
from catalog_service.domain.visibility import is_catalog_staff, visible_condition
from catalog_service.errors import StaffOnlyFilter
from catalog_service.models import Document, Organ
from catalog_service.schemas import (
    SEARCH_COUNT_CAP,
    SEARCH_MAX_OFFSET,
    DocumentFilterParams,
    DocumentSearchHit,
    DocumentSearchParams,
    DocumentSearchResult,
    FacetCount,
    QueryUnderstanding,
)
from catalog_service.textfold import fold
from catalog_service.vocab import DisclosureAttribute, DocumentStatus, Genre, KeyArea, SubjectCategory, Validity
from services.auth import ANONYMOUS, Principal
from services.errors import UnprocessableEntity
from services.pagination import decode_cursor, encode_cursor, invalid_cursor

__all__ = ["BROAD_GRAM_FACTOR", "BROAD_TRIGRAM_FACTOR", "COUNT_CAP", "Explain", "ORDERED_WALK_FACTOR",
           "RELEVANCE_WINDOW", "SearchPlan", "break_even", "capped_summary", "check_search_support",
           "estimated_rows", "feed_query", "feed_url", "gram_keys", "newest_public_matches", "organs_query",
           "plan_search", "search_documents", "search_terms", "snippet", "table_rows", "term_probe",
           "uses_trigram_index"]

COUNT_CAP = SEARCH_COUNT_CAP
# With more than COUNT_CAP matches, facets count and relevance ranks the RELEVANCE_WINDOW newest (ten pages of 20):
# reading the newest COUNT_CAP in order instead cost 50–100 ms for terms in 3–10 % of 1 M documents.
RELEVANCE_WINDOW = 200
# Break-even points between the two routes of a search, measured at 1 M documents with scripts/bench_search.py, and
# scaled to the table's size by the square root: one route costs in proportion to the matches, the other to the
# rows it must pass to collect enough of them (table rows / share of matches). As a FACTOR f, the break-even is
# sqrt(f × table rows) estimated matches.
# A term expected in more rows is searched without its index (broad_terms), by a scan that stops early: the gram
# index costs ~0.05 ms per row wherever the planner would evaluate it row by row, and a trigram index scan reads
# every posting of the term's trigrams before the first row.
BROAD_GRAM_FACTOR = 900  # 1–2 characters (gram index): 30,000 at 1 M rows, 4,200 at 20,000
BROAD_TRIGRAM_FACTOR = 10_000  # 3+ characters (pg_trgm): 100,000 at 1 M rows, 14,000 at 20,000
# With more than COUNT_CAP matches and at most this many expected, the newest are found by collecting every match
# and sorting, not by walking the date index (capped_summary).
ORDERED_WALK_FACTOR = 100  # 10,000 at 1 M rows
SNIPPET_CHARS = 120  # window of public text shown around the first match
SNIPPET_LEAD = 30  # characters shown before the match
SNIPPET_SCAN = 10_000  # only this much of summary and body is loaded to look for the match
SHANGHAI = ZoneInfo("Asia/Shanghai")  # years are Beijing-time years

_TRIGRAM_WORD = re.compile(r"[^\W_]{3}")  # pg_trgm indexes runs of letters/digits (CJK included under C.UTF-8)
_LIKE_SPECIAL = re.compile(r"([\\%_])")


# ---------------------------------------------------------------------------------------------- query analysis

def search_terms(q: str | None, vocabulary: Vocabulary = EMPTY_VOCABULARY) -> list[str]:
    """Every substring a term of the query may match (each alternative once): what the planner estimates."""
    return understand(q, vocabulary).substrings


def like_pattern(term: str) -> str:
    """`%term%` with LIKE's wildcards in the term escaped (ESCAPE '\\')."""
    return "%" + _LIKE_SPECIAL.sub(r"\\\1", term) + "%"


def _int4(value: int) -> int:
    return value - (1 << 32) if value >= (1 << 31) else value


def gram_keys(term: str) -> list[int]:
    """The int4 keys of gongkai_bigrams() (migration catalog_0002) a text containing `term` must have: the single
    character of a one-character term, else every adjacent pair. Code points are taken modulo 2^16 there too."""
    cps = [ord(c) & 0xFFFF for c in term]
    if len(cps) == 1:
        return cps
    return list(dict.fromkeys(_int4((a << 16) | b) for a, b in zip(cps, cps[1:], strict=False)))


def uses_trigram_index(term: str) -> bool:
    return bool(_TRIGRAM_WORD.search(term))


def _gram_match(term: str) -> ColumnElement[bool]:
    return func.gongkai_bigrams(Document.search_text).bool_op("@>")(
        cast(gram_keys(term), ARRAY(Integer)))


class Explain(Executable, ClauseElement):
    """`EXPLAIN (FORMAT JSON) <select>` (PostgreSQL), executed like any statement; the first row is the plan."""

    inherit_cache = False  # compiled per use (~0.5 ms): a cached construct must also describe its result columns

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement


@compiles(Explain, "postgresql")
def _compile_explain(element: Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


async def estimated_rows(session: AsyncSession, explain: Explain) -> float:
    return float((await session.execute(explain)).scalar_one()[0]["Plan"]["Plan Rows"])


def term_probe(term: str) -> Explain:
    """EXPLAIN of one term's index condition: the planner's estimate of how many rows contain it, from the gram
    index's element statistics (1–2 characters) or the search_text histogram (3+)."""
    condition = (Document.search_text.like(like_pattern(term), escape="\\") if uses_trigram_index(term)
                 else _gram_match(term))
    return Explain(select(Document.id).where(condition))


def break_even(factor: float, rows: float) -> float:
    """The estimated matches at which two routes cost the same in a table of `rows` rows (see the FACTORs)."""
    return math.sqrt(max(factor, 0) * rows)


def table_rows() -> Explain:
    """EXPLAIN of the whole table: the planner's row count (also before the first ANALYZE, from its size)."""
    return Explain(select(Document.id))


async def broad_terms(session: AsyncSession, terms: Iterable[str], rows: float) -> set[str]:
    """The terms the planner expects in so many of the table's `rows` that scanning (newest first, or in table
    order until COUNT_CAP + 1 turn up) beats reading them from a search index (PostgreSQL only)."""
    out = set()
    for term in terms:
        factor = BROAD_TRIGRAM_FACTOR if uses_trigram_index(term) else BROAD_GRAM_FACTOR
        if await estimated_rows(session, term_probe(term)) > break_even(factor, rows):
            out.add(term)
    return out


def _fts_match(expression: str) -> ColumnElement[bool]:
    fts = table("document_fts", column("rowid"))
    return literal_column("document.rowid").in_(
        select(fts.c.rowid).where(literal_column("document_fts").op("MATCH")(expression)))


def _fts_any(alternatives: Sequence[str]) -> str:
    quoted = ['"' + t.replace('"', '""') + '"' for t in alternatives]
    return quoted[0] if len(quoted) == 1 else "(" + " OR ".join(quoted) + ")"


def _key_match(term: Term) -> list[ColumnElement[bool]]:
    return [Document.doc_number_key == term.doc_number] if term.doc_number else []


def _match_conditions(dialect: str, terms: Sequence[Term], broad: set[str], *,
                      recheck: bool = True) -> list[ColumnElement[bool]]:
    """One condition per term, the OR of its alternatives (SQLite: one MATCH for the terms whose alternatives are
    all long). Without `recheck` (PostgreSQL, estimates only) a gram alternative is just its index condition: the
    planner takes the LIKE recheck for an independent second condition and multiplies, and estimated 5 matches for
    a term in 84 % of the rows."""
    conditions: list[ColumnElement[bool]] = []
    if dialect == "sqlite":
        simple = [t for t in terms if all(len(a) >= 3 for a in t.alternatives) and not t.doc_number]
        if simple:  # FTS5 query syntax: AND of phrases and parenthesised ORs of phrases
            conditions.append(_fts_match(" AND ".join(_fts_any(t.alternatives) for t in simple)))
        for term in terms:
            if term in simple:
                continue
            if all(len(a) >= 3 for a in term.alternatives):
                conditions.append(or_(_fts_match(_fts_any(term.alternatives)), *_key_match(term)))
            else:  # a 1–2 character alternative: LIKE on the base table, never on the FTS table
                conditions.append(or_(*[Document.search_text.like(like_pattern(a), escape="\\")
                                        for a in term.alternatives], *_key_match(term)))
        return conditions
    for term in terms:
        alternatives: list[ColumnElement[bool]] = []
        for alt in term.alternatives:
            if alt in broad:  # no index: strpos, not LIKE, so the planner cannot pick one, and it is ~2x cheaper
                alternatives.append(func.strpos(Document.search_text, alt) > 0)
                continue
            like = Document.search_text.like(like_pattern(alt), escape="\\")
            if uses_trigram_index(alt):
                alternatives.append(like)
            else:
                alternatives.append(and_(_gram_match(alt), like) if recheck else _gram_match(alt))
        alternatives += _key_match(term)
        conditions.append(alternatives[0] if len(alternatives) == 1 else or_(*alternatives))
    return conditions


def _position(dialect: str, haystack: ColumnElement[Any], needle: str) -> ColumnElement[int]:
    return func.strpos(haystack, needle) if dialect == "postgresql" else func.instr(haystack, needle)


def _title_hit(dialect: str, terms: Sequence[Term]) -> ColumnElement[bool]:
    """Every term (one of its alternatives) in the title. search_text starts with the folded public title and a
    newline (projection.refresh_projection), and terms hold no newline, so an alternative is in the title exactly
    when its first occurrence is before the first newline."""
    if not terms:
        return false()
    title_end = _position(dialect, Document.search_text + "\n", "\n")
    hits = []
    for term in terms:
        in_title = []
        for alt in term.alternatives:
            pos = _position(dialect, Document.search_text, alt)
            in_title.append(and_(pos > 0, pos < title_end))
        hits.append(in_title[0] if len(in_title) == 1 else or_(*in_title))
    return and_(*hits)


def _exact_hit(terms: Sequence[Term]) -> ColumnElement[bool]:
    """The record is one the query names by its 文号 (canonical key) or 索引号: it comes first."""
    keys = [t.doc_number for t in terms if t.doc_number]
    index_nos = [t.index_no for t in terms if t.index_no]
    hits = ([Document.doc_number_key.in_(keys)] if keys else []) + (
        [func.lower(Document.index_no).in_(index_nos)] if index_nos else [])
    return or_(*hits) if hits else false()


# ---------------------------------------------------------------------------------------------- filters

def _year_bounds(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=SHANGHAI), datetime(year + 1, 1, 1, tzinfo=SHANGHAI)


def organs_query(params: DocumentSearchParams) -> Select[Any] | None:
    """The ids the organ filter stands for: the organ, with include_subordinates also every organ below it (its
    materialised path is a prefix of theirs). Resolved before the search so that the filter is a list of ids the
    planner has statistics for (a sub-select was estimated at one organ: 5,000 rows instead of 24,000)."""
    if not params.organ:
        return None
    if params.include_subordinates:
        root = select(Organ.path).where(Organ.code == params.organ).scalar_subquery()
        return select(Organ.id).where(Organ.path.startswith(root))
    return select(Organ.id).where(Organ.code == params.organ)


def _filters(params: DocumentSearchParams, staff: bool, organ_ids: Sequence[str] | None) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if organ_ids is not None:
        out.append(Document.organ_id.in_(list(organ_ids)))
    if params.subject_category:
        out.append(Document.subject_category == params.subject_category.value)
    if params.genre:
        out.append(Document.genre == params.genre.value)
    if params.key_area:
        # JSON list membership, portable: the list is stored as JSON text and values are vocabulary codes
        # ([a-z_]+), so the quoted code occurs in the text exactly when it is an element.
        out.append(cast(Document.key_areas, String).like(f'%"{params.key_area.value}"%'))
    if params.validity:
        out.append(Document.validity == params.validity.value)
    if params.index_no:
        out.append(Document.index_no == params.index_no)
    if params.doc_number:
        out.append(Document.doc_number == params.doc_number)
    if params.year:
        lo, hi = _year_bounds(params.year)
        if staff:  # 成文日期, or the creation time when there is none
            out.append(or_(
                and_(Document.written_date >= date(params.year, 1, 1),
                     Document.written_date < date(params.year + 1, 1, 1)),
                and_(Document.written_date.is_(None), Document.created_at >= lo, Document.created_at < hi)))
        else:
            out.append(and_(Document.published_at >= lo, Document.published_at < hi))
    if staff:
        if params.attribute:
            out.append(Document.attribute == params.attribute.value)
        if params.status:
            out.append(Document.status == params.status.value)
    else:
        for name in ("attribute", "status"):
            if getattr(params, name) is not None:
                raise StaffOnlyFilter(f"The {name} filter is for catalogue staff searching their organ (scope=organ).",
                                      errors=[{"loc": ["query", name], "msg": "only with scope=organ",
                                               "type": "staff_only_filter"}])
    return out


# ---------------------------------------------------------------------------------------------- statements

FACETS = ("organ", "subject_category", "genre", "key_area", "year", "validity")
STAFF_FACETS = (*FACETS, "attribute", "status")


def _year_of(dialect: str, column: ColumnElement[Any], *, is_date: bool = False) -> ColumnElement[int]:
    """The Beijing-time year of a UTC timestamp (or the year of a date). Asia/Shanghai has been UTC+8 since 1991."""
    if dialect == "postgresql":
        local = column if is_date else func.timezone("Asia/Shanghai", column)
        return cast(func.extract("year", local), Integer)
    return cast(func.strftime("%Y", column, *(() if is_date else ("+8 hours",))), Integer)


@dataclass(frozen=True)
class SearchPlan:
    """The statements of one search, built before running them (the benchmark runs the same ones directly)."""

    dialect: str
    staff: bool
    terms: list[str]  # every alternative of every term: what snippets highlight
    groups: tuple[Term, ...]  # the terms of the understood query (AND), each an OR of alternatives
    selective: bool  # some term is answered from a search index (not a broad term scanned for)
    visible: ColumnElement[bool]
    where: list[ColumnElement[bool]]
    estimate_where: list[ColumnElement[bool]]  # `where` with one condition per term, for the planner's estimate
    sort_date: ColumnElement[Any]

    def _rows(self) -> Select[Any]:
        """The columns of the matches that totals, facets and ranks need (never the texts)."""
        year = (func.coalesce(_year_of(self.dialect, Document.written_date, is_date=True),
                              _year_of(self.dialect, Document.created_at)) if self.staff
                else _year_of(self.dialect, Document.published_at))
        return select(Document.id, Document.organ_id, Document.subject_category, Document.genre, Document.key_areas,
                      Document.validity, Document.attribute, Document.status, year.label("year"),
                      self.sort_date.label("sort_date"),
                      _exact_hit(self.groups).label("exact_hit"),
                      _title_hit(self.dialect, self.groups).label("title_hit")).where(*self.where)

    def summary(self, sort: str, offset: int, limit: int, *, newest: int | None = None,
                collect: bool = False) -> Select[Any]:
        """One statement, rows of (kind, value, label, n): kind 'total' (n = rows in the window), one row per facet
        value (n = count), and 'page' rows (value = id, n = position) for the positions of the page inside the
        window. About a hundred small rows cross the wire, whatever the number of matches.

        The window, by default: *any* COUNT_CAP + 1 matches, in no particular order. Without ORDER BY the scan
        stops as soon as it has them (a bitmap heap scan, a sequential scan alike), however wrong the planner's
        estimate. With at most COUNT_CAP matches that is all of them: total, facets and page are exact.

        With `newest`: the `newest` most recent matches (for more than COUNT_CAP matches, page_ids_capped).
        Found by walking the date index, or with `collect` by fetching every match through a search index into a
        MATERIALIZED CTE and sorting it."""
        rows = self._rows()
        if newest is None:
            window = rows.limit(COUNT_CAP + 1).cte("w")
        elif collect:
            every = rows.cte("m").prefix_with("MATERIALIZED")
            window = select(every).order_by(every.c.sort_date.desc(), every.c.id.desc()).limit(newest).cte("w")
        else:
            window = rows.order_by(self.sort_date.desc(), Document.id.desc()).limit(newest).cte("w")
        # Window functions come in the outer query: inside, they would be computed over every match before LIMIT.
        ranking = ([window.c.exact_hit.desc(), window.c.title_hit.desc()] if sort == "relevance" else []) + [
            window.c.sort_date.desc(), window.c.id.desc()]
        ranked = select(window, func.row_number().over(order_by=ranking).label("rank"))
        if newest is None:  # an overflowing window is only counted: capped_summary computes facets and page anew
            ranked = ranked.where(select(func.count()).select_from(window).scalar_subquery() <= COUNT_CAP)
        ranked = ranked.subquery("r")
        counted = (select(ranked).where(ranked.c.rank <= (COUNT_CAP if newest is None else newest))
                   .cte("c"))  # what facets count and pages rank
        text_ = String()
        no_label = cast(None, text_)

        def kind(name: str) -> Any:
            return cast(literal_column(f"'{name}'"), text_).label("kind")

        parts: list[Select[Any]] = [
            select(kind("total"), cast(None, text_).label("value"), no_label.label("label"),
                   func.count().label("n")).select_from(window),
            select(kind("organ"), Organ.code, Organ.name, func.count())
            .select_from(counted.join(Organ, Organ.id == counted.c.organ_id)).group_by(Organ.code, Organ.name),
            select(kind("year"), cast(counted.c.year, text_), no_label, func.count())
            .where(counted.c.year.is_not(None)).group_by(counted.c.year)]
        for name in ("subject_category", "genre", "validity", *(("attribute", "status") if self.staff else ())):
            col = counted.c[name]
            parts.append(select(kind(name), col, no_label, func.count()).where(col.is_not(None)).group_by(col))
        # Key areas: one row per list element. A function in FROM may use columns of the items before it on both
        # databases (implicitly LATERAL), so a plain join ON true does it.
        elements = (func.json_array_elements_text(counted.c.key_areas) if self.dialect == "postgresql"
                    else func.json_each(counted.c.key_areas)).table_valued("value").alias("e")
        parts.append(select(kind("key_area"), elements.c.value, no_label, func.count(func.distinct(counted.c.id)))
                     .select_from(counted.join(elements, true())).group_by(elements.c.value))
        parts.append(select(kind("page"), counted.c.id, no_label, counted.c.rank)
                     .where(counted.c.rank > offset, counted.c.rank <= offset + limit))
        return union_all(*parts)  # type: ignore[return-value]

    def count_estimate(self) -> "Explain":
        """EXPLAIN of the match set: the planner's estimate of how many records match (page_ids_capped)."""
        return Explain(select(Document.id).where(*self.estimate_where))

    def newest_page(self, offset: int, limit: int) -> Select[Any]:
        """Newest first from position `offset` (past the window of page_ids_capped)."""
        return (select(Document.id).where(*self.where)
                .order_by(self.sort_date.desc(), Document.id.desc()).offset(offset).limit(limit))

    def page(self, ids: Sequence[str]) -> Select[Any]:
        # Visibility again, although the ids come from a visible query: this statement must stand on its own. (Not
        # the match: the gram condition would be computed row by row here.)
        return (select(Document.id, Document.index_no, Document.public_title, Document.doc_number, Organ.code,
                       Organ.name, Document.genre, Document.subject_category, Document.published_at,
                       Document.validity, Document.status, Document.attribute,
                       func.substr(Document.public_summary, 1, SNIPPET_SCAN).label("summary"),
                       func.substr(Document.public_body, 1, SNIPPET_SCAN).label("body"))
                .join(Organ, Organ.id == Document.organ_id)
                .where(Document.id.in_(list(ids)), self.visible))


def plan_search(principal: Principal, params: DocumentSearchParams, dialect: str,
                broad: set[str] | None = None, organ_ids: Sequence[str] | None = None,
                understood: UnderstoodQuery | None = None) -> SearchPlan:
    """`broad`: alternatives to search without their index (broad_terms); `organ_ids`: the result of
    organs_query, required when params.organ is set; `understood`: params.q understood (default: without the
    catalogue's vocabulary)."""
    if params.organ and organ_ids is None:
        raise ValueError("resolve the organ filter first (organs_query)")
    staff = params.scope == "organ" and is_catalog_staff(principal)
    if staff:  # their own organ, every state (visible_condition still decides about classified records)
        own = Document.organ_id.in_(select(Organ.id).where(Organ.code == principal.organ))
        visible = and_(visible_condition(principal), own)
        sort_date: ColumnElement[Any] = func.coalesce(Document.published_at, Document.created_at)
    else:
        visible = visible_condition(principal, staff_view=False)
        sort_date = Document.published_at
    understood = understood if understood is not None else understand(params.q)
    groups = understood.terms
    broad = broad or set()
    filters = [visible, *_filters(params, staff, organ_ids)]
    selective = any(all(a not in broad for a in g.alternatives) for g in groups)
    return SearchPlan(dialect=dialect, staff=staff, terms=understood.substrings, groups=groups,
                      selective=selective, visible=visible,
                      where=[*filters, *_match_conditions(dialect, groups, broad)],
                      estimate_where=[*filters, *_match_conditions(dialect, groups, broad, recheck=False)],
                      sort_date=sort_date)


# ---------------------------------------------------------------------------------------------- the use case

async def check_search_support(session: AsyncSession) -> None:
    """Startup check (PostgreSQL): pg_trgm must see CJK characters, i.e. the database LC_CTYPE is a UTF-8 locale.
    Migration catalog_0002 checks it too, but a dump restored into a database created with LC_CTYPE 'C' skips the
    migrations and would silently serve search from an empty trigram index (performance.md §3.1)."""
    if session.bind.dialect.name != "postgresql":
        return
    if (await session.execute(text("SELECT show_trgm('政务公开') = '{}'"))).scalar_one():
        ctype = (await session.execute(text(
            "SELECT datctype FROM pg_database WHERE datname = current_database()"))).scalar_one()
        raise RuntimeError(f"catalogue search needs a UTF-8 LC_CTYPE (this database has {ctype}): pg_trgm sees no "
                           "CJK characters. Recreate the database with LC_CTYPE 'C.UTF-8' and restore into it.")


async def _prepare(session: AsyncSession, principal: Principal, params: DocumentSearchParams,
                   understood: UnderstoodQuery) -> tuple[SearchPlan, float]:
    """The plan of a search, with what it needs resolved first (broad terms, the organ filter's ids), and the
    planner's row count of the table (0 when not asked)."""
    dialect = session.bind.dialect.name
    broad: set[str] = set()
    rows_in_table = 0.0
    if dialect == "postgresql":
        # Parameters must shape each plan (a LIKE pattern's selectivity decides index or walk): no generic plans
        # for the prepared statements of this transaction.
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        terms = understood.substrings
        if terms:
            rows_in_table = await estimated_rows(session, table_rows())
            broad = await broad_terms(session, terms, rows_in_table)
    organs = organs_query(params)
    organ_ids = list((await session.execute(organs)).scalars()) if organs is not None else None
    return plan_search(principal, params, dialect, broad, organ_ids, understood), rows_in_table


async def search_documents(session: AsyncSession, principal: Principal, params: DocumentSearchParams,
                           vocabulary: Vocabulary = EMPTY_VOCABULARY, index_no_re: re.Pattern[str] | None = None, *,
                           feed_base: str | None = None) -> DocumentSearchResult:
    """`vocabulary`: the search dictionary's current version (domain/synonyms.py VocabularyCache);
    `index_no_re`: the 索引号 pattern of the configured template (query.index_no_pattern);
    `feed_base`: the absolute URL of the Atom feed; a public search then carries its feed_url (订阅此检索)."""
    params = with_offset_of_cursor(params)
    understood = understand(params.q, vocabulary, index_no_re)
    plan, rows_in_table = await _prepare(session, principal, params, understood)
    rows = (await session.execute(plan.summary(params.sort, params.offset, params.limit))).all()
    capped = _window_size(rows) > COUNT_CAP
    if capped:  # facets and the page from the newest matches instead
        rows, page_ids = await capped_summary(session, plan, params.sort, params.offset, params.limit,
                                              rows_in_table=rows_in_table)
    else:
        page_ids = _page_ids(rows)
    items: list[DocumentSearchHit] = []
    if page_ids:
        by_id = {r.id: r for r in (await session.execute(plan.page(page_ids))).all()}
        for doc_id in page_ids:
            r = by_id.get(doc_id)
            if r is None:  # changed state between the two statements (read committed): leave it out
                continue
            items.append(DocumentSearchHit(
                id=r.id, index_no=r.index_no, title=r.public_title, doc_number=r.doc_number, organ_code=r.code,
                organ_name=r.name, genre=r.genre, subject_category=r.subject_category, published_at=r.published_at,
                validity=r.validity, snippet=snippet([r.summary, r.body], plan.terms),
                status=r.status if plan.staff else None, attribute=r.attribute if plan.staff else None))
    total = COUNT_CAP if capped else _window_size(rows)
    following = params.offset + params.limit
    more = following < total and following <= SEARCH_MAX_OFFSET
    return DocumentSearchResult(items=items, total=total, next_cursor=encode_cursor([following]) if more else None,
                                has_more=more, total_is_estimate=capped,
                                limit=params.limit, offset=params.offset,
                                facets=_facets(rows, STAFF_FACETS if plan.staff else FACETS),
                                # A staff search has no feed: the feed is public, and would not show their drafts.
                                feed_url=feed_url(feed_base, params) if feed_base and not plan.staff else None,
                                understood=_understanding(understood))


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


def _understanding(understood: UnderstoodQuery) -> QueryUnderstanding:
    return QueryUnderstanding(
        words=[w for w in understood.words if w not in understood.phrases], phrases=list(understood.phrases),
        doc_numbers=list(understood.doc_numbers), index_nos=list(understood.index_nos),
        synonyms_used={k: list(v) for k, v in understood.synonyms_used.items()}, dropped=list(understood.dropped))


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


async def newest_public_matches(session: AsyncSession, params: DocumentFilterParams, limit: int,
                                vocabulary: Vocabulary = EMPTY_VOCABULARY,
                                index_no_re: re.Pattern[str] | None = None) -> list[str]:
    """The ids of the `limit` newest (by publication) records the public search finds with these filters: the
    search's own understanding, plan and matching, always as the anonymous public sees the catalogue, whoever asks."""
    public = DocumentSearchParams(**params.model_dump(include=set(DocumentFilterParams.model_fields)))
    plan, _ = await _prepare(session, ANONYMOUS, public, understand(public.q, vocabulary, index_no_re))
    return list((await session.execute(plan.newest_page(0, limit))).scalars())


def _window_size(rows: Sequence[Any]) -> int:
    return next(r.n for r in rows if r.kind == "total")


def _page_ids(rows: Sequence[Any]) -> list[str]:
    return [r.value for r in sorted((r for r in rows if r.kind == "page"), key=lambda r: r.n)]


async def capped_summary(session: AsyncSession, plan: SearchPlan, sort: str, offset: int, limit: int, *,
                         rows_in_table: float = 0.0) -> tuple[Sequence[Any], list[str]]:
    """More than COUNT_CAP matches: the summary rows (facets) and the page ids from the RELEVANCE_WINDOW newest
    matches, ranked by `sort`; positions past the window newest first. One order over all matches, so consecutive
    pages neither repeat nor skip a record.

    Two ways to find the newest matches: walk the date index until enough turn up (~window / share of matching
    rows), or collect every match through a search index and sort (~matches). PostgreSQL prices a LIKE on a 1 KB
    text like any operator, and once walked 58,000 rows for a term in 0.3 % of them (190 ms; collecting: 15 ms).
    So when a term has a selective index (trigram, or a gram term that is not broad) and the planner expects at
    most break_even(ORDERED_WALK_FACTOR, rows_in_table) matches, collect; otherwise let the planner choose (the
    walk, for common terms). Its estimates for rare patterns are low rather than high, which bounds the cost of
    collecting too eagerly."""
    collect = False
    if plan.dialect == "postgresql" and plan.selective:
        expected = await estimated_rows(session, plan.count_estimate())
        collect = expected <= break_even(ORDERED_WALK_FACTOR, rows_in_table)
    rows = (await session.execute(plan.summary(sort, offset, limit, newest=RELEVANCE_WINDOW,
                                               collect=collect))).all()
    ids = _page_ids(rows)
    start = max(offset, RELEVANCE_WINDOW)
    if offset + limit > start:
        ids += (await session.execute(plan.newest_page(start, offset + limit - start))).scalars()
    return rows, ids


# ---------------------------------------------------------------------------------------------- facets

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


def _facets(rows: Sequence[Any], names: Sequence[str]) -> dict[str, list[FacetCount]]:
    """Facet rows of the summary statement, most frequent first (years newest first). They count exactly the
    records the list pages through; a record with two key areas counts for both, as the key_area filter would
    find it under either."""
    out: dict[str, list[FacetCount]] = {name: [] for name in names}
    for r in rows:
        if r.kind in out:
            out[r.kind].append(FacetCount(value=r.value, label=_label(r.kind, r.value, r.label), count=r.n))
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


def snippet(texts: Sequence[str | None], terms: Sequence[str]) -> str:
    """An HTML fragment of public text: around the first match in the first text that has one, else the start of
    the first non-empty text. Escaped; terms in <em>; '…' where cut."""
    candidates = [t for t in texts if t]
    if not candidates:
        return ""
    for text_ in candidates:
        folded = fold(text_)
        hits = [i for i in (folded.find(t) for t in terms) if i >= 0]
        if not hits:
            continue
        first = min(hits)
        if len(folded) != len(text_):
            first = _original_span(_folded_offsets(text_), first, first)[0]
        start = max(0, first - SNIPPET_LEAD)
        end = min(len(text_), start + SNIPPET_CHARS)
        return ("…" if start else "") + _highlight(text_[start:end], terms) + ("…" if end < len(text_) else "")
    text_ = candidates[0]
    return html.escape(text_[:SNIPPET_CHARS]) + ("…" if len(text_) > SNIPPET_CHARS else "")
