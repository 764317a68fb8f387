"""full-text search indexes (全文检索) over document.search_text

Revision ID: catalog_0002
Revises: catalog_0001
Create Date: 2026-11-23 09:00:00

`document.search_text` is the folded public text (NFKC, 繁→简, lower case) kept by refresh_projection. It is
indexed here, outside the ORM metadata (migrations/env.py filters these objects out of autogenerate):

PostgreSQL (performance.md §5.1)
  - pg_trgm GIN on search_text: substring search for terms of 3+ characters (`LIKE '%q%'`).
  - A unigram+bigram GIN expression index, `gongkai_bigrams(search_text)` (int4[] keys), for 1–2 character
    terms, which pg_trgm cannot answer from its index (an extension-free pg_bigm): `@>` the term's gram keys
    finds the candidates, a LIKE recheck keeps recall exactly substring recall.
  - pg_trgm GIN on the key_areas JSON text, for the key_area filter (statistics and an index for its LIKE).
  - search_text stays in the row (STORAGE MAIN), not in TOAST: every search reads it.
  - pg_trgm only sees CJK characters under a UTF-8 LC_CTYPE; under `C` the index is empty and slower than a
    sequential scan (§3.1), so the upgrade refuses to run there.

SQLite (§5.2)
  - An FTS5 `trigram` external-content table over document.search_text, kept in sync by triggers. Terms of
    3+ characters use `MATCH`; shorter ones use LIKE on the base table (never LIKE on the FTS table: SQLite
    3.40.1 silently returns no rows).
  - The FTS table addresses documents by rowid. `VACUUM` may renumber the rowids of a table without an
    INTEGER PRIMARY KEY, and a batch ("move and copy") migration of `document` drops the triggers: after
    either, recreate the triggers and run `INSERT INTO document_fts(document_fts) VALUES ('rebuild')`.
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'catalog_0002'
down_revision: str | None = 'catalog_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Gram keys (performance.md §5.1: an extension-free pg_bigm). Every character and every pair of adjacent
# characters of the (already folded) text becomes an int4 key: a character is its code point, a pair is
# (first << 16) | second, both taken modulo 2^16. Integer keys build a GIN index ~1.5x faster than text
# lexemes (tsvector) or text[]; characters outside the BMP may share keys, which only adds candidates that the
# LIKE recheck drops. Arrays have no size limit (a tsvector stops at 1 MB), so long bodies need no special case.
# domain/search.py computes the same keys for a query (gram_keys); keep the two in step.
PG_BIGRAMS = r"""
CREATE FUNCTION gongkai_bigrams(t text) RETURNS int4[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE COST 1000 AS $$
DECLARE
  cp int4[];
  keys int4[];
BEGIN
  SELECT coalesce(array_agg(ascii(ch) & 65535), '{}') INTO cp FROM unnest(string_to_array(t, NULL)) AS ch;
  keys := cp;
  -- A plpgsql loop over an (expanded) array is ~4x faster than unnest/generate_series in SQL here.
  FOR i IN 1 .. cardinality(cp) - 1 LOOP
    keys := keys || ((cp[i] << 16) | cp[i + 1]);
  END LOOP;
  RETURN keys;
END
$$
"""
# COST 1000: the keys of a few hundred characters take ~0.05 ms, so the planner must not pick plans that compute
# them row by row when the index can answer.

PG_UTF8_CHECK = """
DO $$
BEGIN
  IF show_trgm('政务公开') = '{}' THEN
    RAISE EXCEPTION 'pg_trgm sees no CJK characters in this database: its LC_CTYPE is %, not a UTF-8 locale. '
      'Create the catalogue database with LC_CTYPE ''C.UTF-8'' (e.g. CREATE DATABASE … TEMPLATE template0 '
      'ENCODING ''UTF8'' LC_COLLATE ''C'' LC_CTYPE ''C.UTF-8'') — see performance.md §3.1.',
      (SELECT datctype FROM pg_database WHERE datname = current_database());
  END IF;
END
$$
"""

# The two indexes (each with its follow-up statements); scripts/bench_search.py also uses these to rebuild them in
# parallel after a bulk load.
PG_INDEXES = {
    "ix_document_search_trgm": [
        "CREATE INDEX ix_document_search_trgm ON document USING gin (search_text gin_trgm_ops)"],
    "ix_document_search_bigram": [
        "CREATE INDEX ix_document_search_bigram ON document USING gin (gongkai_bigrams(search_text))",
        # The search asks the planner (EXPLAIN) how many rows contain a 1–2 character term, to choose between this
        # index and walking the date index. At the default target (100) only grams in more than ~11 % of the rows
        # have statistics; at 300 those in more than ~1 % do (measured at 1 M documents; ANALYZE ~20 s).
        "ALTER INDEX ix_document_search_bigram ALTER COLUMN 1 SET STATISTICS 300"],
    # The key_area filter is `CAST(key_areas AS VARCHAR) LIKE '%"code"%'` (portable JSON list membership). Without
    # an index on that expression the planner has no statistics for it and guessed 34 matches for 28,000, then
    # sorted a sequential scan (1.3 s). The index gives both statistics and a way in. Small: the lists are short.
    "ix_document_search_key_areas": [
        "CREATE INDEX ix_document_search_key_areas ON document USING gin ((CAST(key_areas AS VARCHAR)) gin_trgm_ops)"],
}

# Keep search_text in the row (compressed if need be) and let body/public_body go to TOAST first: every search
# reads search_text (LIKE recheck), and fetching it out of line cost ~10 buffer accesses per row (a 9,000-row
# index walk took 119 ms with search_text in TOAST). Applies to rows written from now on; to move existing rows,
# rewrite the table (VACUUM FULL document) in a maintenance window.
PG_STORAGE = "ALTER TABLE document ALTER COLUMN search_text SET STORAGE MAIN"

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE document_fts USING fts5("
    "search_text, content='document', content_rowid='rowid', tokenize='trigram')",
    "CREATE TRIGGER document_fts_ai AFTER INSERT ON document BEGIN "
    "INSERT INTO document_fts(rowid, search_text) VALUES (new.rowid, new.search_text); END",
    "CREATE TRIGGER document_fts_ad AFTER DELETE ON document BEGIN "
    "INSERT INTO document_fts(document_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text); END",
    "CREATE TRIGGER document_fts_au AFTER UPDATE OF search_text ON document BEGIN "
    "INSERT INTO document_fts(document_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text); "
    "INSERT INTO document_fts(rowid, search_text) VALUES (new.rowid, new.search_text); END",
    "INSERT INTO document_fts(document_fts) VALUES ('rebuild')",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(PG_UTF8_CHECK)
        op.execute(PG_BIGRAMS)
        op.execute(PG_STORAGE)
        for statements in PG_INDEXES.values():
            for statement in statements:
                op.execute(statement)
    elif dialect == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    else:
        raise NotImplementedError(f"no search indexes for {dialect}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for name in PG_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
        op.execute("DROP FUNCTION IF EXISTS gongkai_bigrams(text)")
        op.execute("ALTER TABLE document ALTER COLUMN search_text SET STORAGE EXTENDED")
        # pg_trgm stays: other objects may use it, and dropping an extension is the DBA's decision.
    elif dialect == "sqlite":
        for trigger in ("document_fts_au", "document_fts_ad", "document_fts_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS document_fts")
