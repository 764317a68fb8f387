"""检索索引 · the catalogue's search index: a tantivy index (BM25, Rust) per process, a projection of the document
table maintained by the indexer (domain/indexer.py) from the catalogue's own change events — off the write path.

Why tantivy: a maintained embedded engine with BM25 ranking, per-field boosts, phrase queries, exact counts and
aggregations (facets), the same on SQLite and PostgreSQL, with no server to run (`make run` needs only Python).
Each process keeps its own index (a directory, or memory for the embedded default and tests), fed from the
catalogue's outbox; adding instances adds indexes, not load on the database's write path.

Analysis (the same for records and queries, so what matches is predictable):
  - text is folded (textfold.fold: NFKC, 繁→简, lower case);
  - a run of CJK characters becomes its overlapping bigrams (政务公开 → 政务 务公 公开), a run of one character that
    character; a run of Latin letters or digits is one token (2011, pm2);
  - tokens are given to tantivy pre-split (its `whitespace` tokenizer), so positions are consecutive: a quoted
    phrase, 文号 or 索引号 of a query is a phrase of its bigrams (an exact substring), a word the AND of its bigrams
    (CJK bigram indexing, as Lucene's `cjk` analyzer; domain/search.py).

Fields:
  - `text`: the tokens of every text field of the record — what a search matches and ranks on — with the short
    fields repeated by their weight (FIELD_WEIGHTS: title 4, 文号 and 索引号 3, keywords 2, summary and body 1), one
    value per repetition so that a phrase never spans two: BM25 over this one field is BM25F, the field-weighted
    BM25 (a word's frequency in the title counts four times, and the title's length too). One field lets the engine
    intersect the words of a query by skipping through their postings; a word as a union over five fields, as
    before, was read whole, and a two-word query cost as much as its commonest word in every field.
  - `chars`: the text's CJK characters one by one, weighted the same way, frequencies only — what a lone character
    of a query matches (税 finds 税收 and 个税; as a pattern over the bigrams it was a regular expression run over
    every segment's term dictionary, the slowest query there was);
  - `title` (with positions): for the boost of a title containing the whole query; `title_chars`, its CJK
    characters, for the title boost of a lone character (a pattern over the title's bigrams cost a 1-character
    search 4–5 times what its match did);
  - exact-value fields for filters, facets and sorting (organ, genre, year, …); the record's `version` and `mark`
    (the newest search revocation the indexer had seen when it read the record, indexer.py) are stored, so that
    search can tell an entry older than a revocation;
  - `sample_level`: the nested uniform samples estimated facets are counted on (sample_levels).
"""

import json
import os
import re
import shutil
import zlib
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import date, datetime
from operator import add
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import tantivy

from catalog_service.textfold import fold

__all__ = ["ANALYSIS_POOL_MIN", "CHAR_FIELD", "CHAR_FIELDS", "FIELD_WEIGHTS", "MATCH_FIELD", "SAMPLE_BUCKETS",
           "SAMPLE_LEVELS", "SCHEMA", "TEXT_FIELDS", "analyse", "Analysis", "cjk_tokens", "index_chars", "IndexEntry",
           "is_cjk", "query_tokens", "sample_bucket", "sample_levels", "SearchIndex"]

SHANGHAI = ZoneInfo("Asia/Shanghai")  # years are Beijing-time years
MATCH_FIELD = "text"  # every text field's tokens, weighted: what a query's words are matched and ranked on
FIELD_WEIGHTS = {"title": 4, "docno": 3, "keywords": 2, "summary": 1, "body": 1}  # BM25F weights, as repetitions
CHAR_FIELD = "chars"  # the text's CJK characters one by one (weighted the same way): what a lone character matches
TITLE_CHAR_FIELD = "title_chars"  # the title's CJK characters: what a lone character's title boost matches
CHAR_FIELDS = {MATCH_FIELD: CHAR_FIELD, "title": TITLE_CHAR_FIELD}  # a token field → its characters' field
TEXT_FIELDS = ("title", MATCH_FIELD)
KEYWORD_FIELDS = ("id", "organ_id", "genre", "subject_category", "validity", "status", "attribute", "key_area",
                  "doc_number_key", "doc_number", "index_no")
INT_FIELDS = ("public", "classified", "in_force", "pub_year", "staff_year", "sort_ts", "published_ts", "version",
              "mark")
SAMPLE_BUCKETS = 1024  # a fixed, uniform bucket per record (hash of its id), for estimated facets
SAMPLE_LEVELS = 10  # sample level L: the records whose bucket is below SAMPLE_BUCKETS >> L (a share of 2^-L)
WRITER_HEAP_BYTES = 32_000_000  # one indexing thread; tantivy flushes a segment when the heap fills
POSITION_FILE = "gongkai-position.json"


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    for name in KEYWORD_FIELDS:
        builder.add_text_field(name, stored=name == "id", fast=True, tokenizer_name="raw")
    for name in TEXT_FIELDS:
        builder.add_text_field(name, tokenizer_name="whitespace")  # pre-split tokens (cjk_tokens), with positions
    for name in INT_FIELDS:
        builder.add_integer_field(name, stored=name in ("version", "mark"), indexed=True, fast=True)
    for name in CHAR_FIELDS.values():
        builder.add_text_field(name, tokenizer_name="whitespace", index_option="freq")
    builder.add_integer_field("sample_level", indexed=True)  # several values per record: sample_levels
    return builder.build()


SCHEMA = _schema()

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_RUNS = re.compile(f"[{_CJK}]+|[^\\W_{_CJK}]+")
_CJK_CHAR = re.compile(f"[{_CJK}]")
# The same runs, a CJK run as group 1: cjk_tokens runs over every text field of every record the indexer writes and
# is most of IndexEntry.document's CPU, so it tells the kinds of run apart without a second regex match per run.
_TOKEN_RUNS = re.compile(f"([{_CJK}]+)|[^\\W_{_CJK}]+")


def is_cjk(ch: str) -> bool:
    return _CJK_CHAR.match(ch) is not None


def cjk_tokens(folded: str) -> list[str]:
    """The tokens of already folded text: CJK runs as overlapping bigrams (one character alone), other letter or
    digit runs whole. Punctuation and spaces separate runs and produce nothing."""
    return index_text(folded).split()


def index_text(folded: str) -> str:
    """cjk_tokens joined by spaces, as the index takes them (its `whitespace` tokenizer splits them again). The
    indexer's hottest loop: a CJK run's bigrams are paired by `map` in C, not sliced one by one."""
    out: list[str] = []
    for match in _TOKEN_RUNS.finditer(folded):
        run = match.group(1)
        if run is None:
            out.append(match.group())
        elif len(run) > 1:
            out.append(" ".join(map(add, run, run[1:])))
        else:
            out.append(run)
    return " ".join(out)


def index_chars(folded: str) -> str:
    """The CJK characters of already folded text, space-separated (the `chars` field)."""
    return " ".join(_CJK_CHAR.findall(folded))


def query_tokens(folded: str) -> list[tuple[str, bool]]:
    """The tokens a query string must match, in order, each with whether it is a regular expression: a lone CJK
    character at the edge of the query string may be the first or last character of a longer run in the record
    (年 in 2011年 against 2011年度), so it matches any bigram it starts or ends there. Empty: nothing to match."""
    runs = [(m.group(), m.start(), m.end()) for m in _RUNS.finditer(folded)]
    out: list[tuple[str, bool]] = []
    for run, start, end in runs:
        if is_cjk(run[0]) and len(run) > 1:
            out.extend((run[i:i + 2], False) for i in range(len(run) - 1))
        elif is_cjk(run[0]):
            left = ".?" if start == 0 else ""  # the query's edge: the record may have more CJK before it
            right = ".?" if end == len(folded) else ""
            out.append((f"{left}{re.escape(run)}{right}", True) if left or right else (run, False))
        else:
            out.append((run, False))
    return out


def sample_bucket(doc_id: str) -> int:
    """The record's sample bucket: CRC-32 of its id, uniform over 0..SAMPLE_BUCKETS-1 and the same in every index."""
    return zlib.crc32(doc_id.encode()) % SAMPLE_BUCKETS


def sample_levels(doc_id: str) -> range:
    """The sample levels a record belongs to: level L holds the records whose bucket is below SAMPLE_BUCKETS >> L,
    so each level is a uniform sample of half the one before. One indexed term per level: a search joins the level
    it needs as a term, whose short postings lead the intersection (a range over buckets did not: it was checked
    against every match)."""
    bucket = sample_bucket(doc_id)
    return range(next((level for level in range(SAMPLE_LEVELS + 1) if bucket >= SAMPLE_BUCKETS >> level),
                      SAMPLE_LEVELS + 1))


def _ts(value: datetime | None) -> int:
    return int(value.timestamp()) if value else 0


def _year(value: datetime | None) -> int:
    return value.astimezone(SHANGHAI).year if value else 0


Analysis = tuple[tuple[str, str], ...]  # per text field: its tokens and its CJK characters, space-separated
ANALYSIS_POOL_MIN = 200  # entries from which `apply` hands the analysis to the pool (below: not worth the pickling)


def analyse(texts: tuple[str, ...]) -> Analysis:
    """The costly part of indexing a record (~90 % of `document`): each text field folded, cut into tokens and
    characters. Plain strings in and out, so that it runs as well in a process of the indexer's analysis pool
    (SearchEngine.analysis_processes) as in place."""
    out = []
    for value in texts:
        folded = fold(value)
        tokens = index_text(folded)
        out.append((tokens, index_chars(folded) if tokens else ""))
    return tuple(out)


@dataclass(frozen=True)
class IndexEntry:
    """What the index holds of one record (read by the indexer from the document table)."""

    id: str
    organ_id: str
    status: str
    classified: bool
    version: int
    mark: int  # newest search_revocation id of the record when it was read (0: none)
    title: str
    doc_number: str | None
    doc_number_key: str | None
    index_no: str | None
    keywords: list[str]
    summary: str | None
    body: str
    genre: str | None
    subject_category: str | None
    validity: str
    attribute: str | None
    key_areas: list[str]
    written_date: date | None
    published_at: datetime | None
    created_at: datetime

    def texts(self) -> tuple[str, ...]:
        """The record's text fields, in FIELD_WEIGHTS order: what `analyse` takes."""
        return (self.title, f"{self.doc_number or ''} {self.index_no or ''}", " ".join(self.keywords or ()),
                self.summary or "", self.body)

    def document(self, analysis: Analysis | None = None) -> tantivy.Document:
        """The tantivy document; `analysis` is `analyse(self.texts())` when an analysis process made it."""
        doc = tantivy.Document()
        doc.add_text("id", self.id)
        doc.add_text("organ_id", self.organ_id)
        for name in ("genre", "subject_category", "validity", "status", "attribute", "doc_number_key", "doc_number",
                     "index_no"):
            value = getattr(self, name)
            if value:
                doc.add_text(name, value)
        for area in self.key_areas or ():
            doc.add_text("key_area", area)
        for (name, weight), (tokens, chars) in zip(FIELD_WEIGHTS.items(), analysis or analyse(self.texts()),
                                                   strict=True):
            if tokens:
                if name == "title":
                    doc.add_text(name, tokens)
                    doc.add_text(TITLE_CHAR_FIELD, chars)
                for _ in range(weight):
                    doc.add_text(MATCH_FIELD, tokens)
                    doc.add_text(CHAR_FIELD, chars)
        public = self.status == "published" and not self.classified
        staff_year = self.written_date.year if self.written_date else _year(self.created_at)
        for name, value in (("public", int(public)), ("classified", int(self.classified)),
                            ("in_force", int(self.validity == "in_force")), ("pub_year", _year(self.published_at)),
                            ("staff_year", staff_year), ("sort_ts", _ts(self.published_at or self.created_at)),
                            ("published_ts", _ts(self.published_at)), ("version", self.version),
                            ("mark", self.mark)):
            doc.add_integer(name, value)
        for level in sample_levels(self.id):
            doc.add_integer("sample_level", level)
        return doc


class SearchIndex:
    """One tantivy index — a directory, or memory when `path` is None — and `position`: the id of the last outbox
    event applied (None: never built). Only the indexer writes (one writer per index, indexer.py); `read_only`
    opens a directory another process writes (the web processes of a host read the index of its indexer process)
    and `refresh` follows that writer."""

    def __init__(self, path: Path | None, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        if read_only:
            assert path is not None
            if not tantivy.Index.exists(str(path)):
                raise ValueError(f"no search index in {path}")
            # Opened with this code's schema, so a generation written with another one (before an upgrade) raises
            # ValueError instead of being served — its fields are not the ones the queries ask for. The indexer
            # process builds a new generation; until it swaps, the index is "not built".
            self.index = tantivy.Index(SCHEMA, path=str(path), reuse=True)
            self.writer = None
        else:
            if path is not None:
                path.mkdir(parents=True, exist_ok=True)
            self.index = tantivy.Index(SCHEMA, path=str(path) if path else None, reuse=True)
            self.writer = self.index.writer(WRITER_HEAP_BYTES, 1)
        self.position: int | None = self._read_position()
        self._last_applied: dict[str, IndexEntry] = {}  # what the last `apply` wrote (or found unchanged), by id

    def refresh(self) -> None:
        """Read-only: take the writer's newest position, and its commits up to it. The writer records a position
        only after committing, so after a refresh the searcher holds every change up to `position`."""
        position = self._read_position()
        if position != self.position:
            self.index.reload()
            self.position = position

    def _read_position(self) -> int | None:
        if self.path is None or not (self.path / POSITION_FILE).exists():
            return None
        return int(json.loads((self.path / POSITION_FILE).read_text())["position"])

    def apply(self, entries: list[IndexEntry], removed: list[str], position: int, *,
              analysers: Executor | None = None) -> None:
        """Replace the entries of these records (and drop `removed`), commit, then remember `position`. A crash
        between the two re-applies the same events at the next start: replacing is idempotent.

        An entry equal to the one the previous call wrote for that record is already in the index as it is, and is
        left there: a bulk import's created and published events of one record often fall into two rounds
        (BATCH_EVENTS), and analysing the same row twice was a third of the indexer's work catching up on one."""
        changed = [entry for entry in entries if self._last_applied.get(entry.id) != entry]
        analyses: list[Analysis | None] = [None] * len(changed)
        if analysers is not None and len(changed) >= ANALYSIS_POOL_MIN:  # the other processes fold and cut
            analyses = list(analysers.map(analyse, [entry.texts() for entry in changed], chunksize=50))
        for doc_id in [*(e.id for e in changed), *removed]:
            self.writer.delete_documents_by_term("id", doc_id)
        for entry, analysis in zip(changed, analyses, strict=True):
            self.writer.add_document(entry.document(analysis))
        self.writer.commit()
        self.index.reload()
        self.set_position(position)
        self._last_applied = {entry.id: entry for entry in entries}

    def set_position(self, position: int) -> None:
        self.position = position
        if self.path is not None:
            tmp = self.path / (POSITION_FILE + ".tmp")
            tmp.write_text(json.dumps({"position": position}))
            os.replace(tmp, self.path / POSITION_FILE)

    def remove(self, doc_id: str) -> None:
        """Drop one entry (used by reconciliation tests to simulate a lost entry, and by repair)."""
        self._last_applied.pop(doc_id, None)
        self.writer.delete_documents_by_term("id", doc_id)
        self.writer.commit()
        self.index.reload()

    def searcher(self) -> tantivy.Searcher:
        return self.index.searcher()

    def entries(self) -> dict[str, tuple[int, int]]:
        """Every entry's id → (version, mark), for reconciliation (reads the whole index)."""
        searcher = self.searcher()
        total = searcher.num_docs
        if not total:
            return {}
        hits = searcher.search(tantivy.Query.all_query(), total, count=False).hits
        addresses = [address for _, address in hits]
        versions = searcher.fast_field_values("version", addresses)
        marks = searcher.fast_field_values("mark", addresses)
        return {searcher.doc(address)["id"][0]: (int(v or 0), int(m or 0))
                for address, v, m in zip(addresses, versions, marks, strict=True)}

    def close(self, *, delete: bool = False) -> None:
        try:
            if self.writer is not None:
                self.writer.wait_merging_threads()
        except Exception:  # already closed (tantivy consumes the writer): nothing left to wait for
            pass
        if delete and self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)


def describe(index: SearchIndex) -> dict[str, Any]:
    return {"entries": index.searcher().num_docs, "position": index.position,
            "location": str(index.path) if index.path else "memory"}
