"""The reference engine of the relevance benchmark: BM25 over CJK bigrams, what Lucene's `cjk` analyzer does
(width folding, lower case, overlapping bigrams of Han characters, a lone Han character as a unigram, Latin words
and numbers whole), scored by bm25s (Lucene's BM25 variant, k1 = 1.5, b = 0.75) over one field: title, 文号,
keywords, summary and body together. No Traditional → Simplified folding: Lucene's cjk analyzer has none.

Runs in .venv-bench (numpy, scipy, bm25s), not in the services' environment:
    .venv-bench/bin/python scripts/relevance/reference_bm25.py CORPUS.jsonl QUERIES.jsonl OUT.json
CORPUS lines: {"external_id", "text"}; QUERIES lines: {"id", "query"}; OUT: {query id: [external ids, best first]}.
"""

import json
import re
import sys
import unicodedata

import bm25s

TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z0-9]+")
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def cjk_tokens(text: str) -> list[str]:
    out: list[str] = []
    for run in TOKEN.findall(unicodedata.normalize("NFKC", text).lower()):
        if HAN.match(run):
            out += [run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)]
        else:
            out.append(run)
    return out


def main(corpus_path: str, queries_path: str, out_path: str, k: int = 10) -> None:
    docs = [json.loads(line) for line in open(corpus_path, encoding="utf-8")]
    queries = [json.loads(line) for line in open(queries_path, encoding="utf-8")]
    retriever = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    retriever.index([cjk_tokens(d["text"]) for d in docs], show_progress=False)
    ids = [d["external_id"] for d in docs]
    ranked: dict[str, list[str]] = {}
    for q in queries:
        tokens = cjk_tokens(q["query"])
        known = [t for t in tokens if t in retriever.vocab_dict]
        if not known:
            ranked[q["id"]] = []
            continue
        results, scores = retriever.retrieve([known], k=k, show_progress=False)
        ranked[q["id"]] = [ids[int(i)] for i, s in zip(results[0], scores[0], strict=True) if s > 0]
    json.dump(ranked, open(out_path, "w", encoding="utf-8"), ensure_ascii=False)


if __name__ == "__main__":
    main(*sys.argv[1:4])
