"""The reference engine of the search speed benchmark (scripts/bench_search.py): a bare tantivy searcher over the same
bigram-analysed corpus, behind the smallest HTTP server that can answer a query — what "throughput at least half the
reference engine's" (issue 12) is measured against.

    BENCH_REFERENCE_INDEX=/path/to/index-generation .venv/bin/uvicorn bench_search_reference:app --app-dir scripts \
        --host 127.0.0.1 --port 8396 --no-access-log

It opens the catalogue's own index directory read-only (the generation the service built: the same corpus, the same
analysis — folding, CJK bigrams — the same field-weighted text, search_index.MATCH_FIELD), so the two differ only in
what is done per query. Per query the reference does what Lucene's `cjk` analyzer with the AND operator does
(Elasticsearch `"operator": "and"`): every bigram of the folded query must occur in the record's text, scored by
BM25 (BM25F: the index repeats the short fields by their weight); a lone CJK character matches itself in the
index's character field (as the service does, or a 1-character query would find next to nothing in a bigram index);
public records only; the top 20 ids by score and the exact count. No query understanding (words, 文号, synonyms), no revocation check, no facets, no database read,
no snippets, no Pydantic: a raw ASGI app under uvicorn, one worker, like the service.

GET /search?q=…  →  {"total": n, "ids": [...]}
"""

import json
import os
import urllib.parse
from typing import Any

import tantivy

from catalog_service.domain.search_index import CHAR_FIELD, MATCH_FIELD, SCHEMA, query_tokens
from catalog_service.textfold import fold

Q = tantivy.Query
MUST = tantivy.Occur.Must
LIMIT = 20

_index = tantivy.Index(SCHEMA, path=os.environ["BENCH_REFERENCE_INDEX"], reuse=True)
_public = Q.const_score_query(Q.term_query(SCHEMA, "public", 1), 0.0)


def _token(field: str, text: str, is_regex: bool) -> tantivy.Query:
    """A bigram; a lone CJK character (is_regex) as itself in the index's character field, as the service does."""
    return Q.term_query(SCHEMA, CHAR_FIELD, text.replace(".?", "")) if is_regex else Q.term_query(SCHEMA, field, text)


def search(q: str) -> dict[str, Any]:
    tokens = list(dict.fromkeys(query_tokens(fold(q))))
    if not tokens:
        return {"total": 0, "ids": []}
    clauses = [(MUST, _public)]
    clauses += [(MUST, _token(MATCH_FIELD, text, is_regex)) for text, is_regex in tokens]
    searcher = _index.searcher()
    result = searcher.search(Q.boolean_query(clauses), LIMIT, count=True)
    return {"total": result.count, "ids": [searcher.doc(a)["id"][0] for _, a in result.hits]}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    params = urllib.parse.parse_qs(scope["query_string"].decode())
    if scope["path"] == "/search":
        status, body = 200, json.dumps(search(params.get("q", [""])[0]), ensure_ascii=False).encode()
    elif scope["path"] == "/healthz":
        status, body = 200, b'{"ok": true}'
    else:
        status, body = 404, b"{}"
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
