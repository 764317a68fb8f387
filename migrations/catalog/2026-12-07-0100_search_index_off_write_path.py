"""search off the write path: search revocations; the in-database search indexes dropped

Revision ID: catalog_0008
Revises: catalog_0007
Create Date: 2026-12-07 01:00:00

Search is answered by each process's search index (catalog_service/domain/search_index.py, tantivy), maintained
from the change events by the indexer: writes and bulk imports no longer maintain full-text indexes in their
transaction. So the GIN indexes of catalog_0002 (pg_trgm over search_text, the unigram+bigram index and its
function, the key_areas trigram index) and SQLite's FTS5 table with its triggers go.

search_revocation: written in the transaction that takes a public record out of public view or changes its public
text; search leaves the record out until an index entry read after the row exists (models.SearchRevocation).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.db

revision: str = 'catalog_0008'
down_revision: str | None = 'catalog_0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_INDEXES = ("ix_document_search_trgm", "ix_document_search_bigram", "ix_document_search_key_areas")
SQLITE_TRIGGERS = ("document_fts_au", "document_fts_ad", "document_fts_ai")


def upgrade() -> None:
    op.create_table(
        'search_revocation',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('document_id', sa.String(length=36), nullable=False),
        sa.Column('created_at', services.db.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_search_revocation')),
    )
    op.create_index(op.f('ix_search_revocation_document_id'), 'search_revocation', ['document_id'], unique=False)
    op.create_index(op.f('ix_search_revocation_created_at'), 'search_revocation', ['created_at'], unique=False)
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for name in PG_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
        op.execute("DROP FUNCTION IF EXISTS gongkai_bigrams(text)")
        op.execute("ALTER TABLE document ALTER COLUMN search_text SET STORAGE EXTENDED")
    elif dialect == "sqlite":
        for trigger in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS document_fts")


def downgrade() -> None:
    import importlib.util
    from pathlib import Path

    # Recreate catalog_0002's objects from its own definitions.
    spec = importlib.util.spec_from_file_location(
        "catalog_0002", Path(__file__).with_name("2026-11-23-0900_search_indexes.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(module.PG_BIGRAMS)
        op.execute(module.PG_STORAGE)
        for statements in module.PG_INDEXES.values():
            for statement in statements:
                op.execute(statement)
    elif dialect == "sqlite":
        for statement in module.SQLITE_FTS:
            op.execute(statement)
    op.drop_index(op.f('ix_search_revocation_created_at'), table_name='search_revocation')
    op.drop_index(op.f('ix_search_revocation_document_id'), table_name='search_revocation')
    op.drop_table('search_revocation')
