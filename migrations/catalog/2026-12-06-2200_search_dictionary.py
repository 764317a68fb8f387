"""search dictionary (检索词典): synonym entries, its version, and the canonical 文号 key of each record

Revision ID: catalog_0006
Revises: catalog_0005
Create Date: 2026-12-06 22:00:00

search_synonym holds the admin-managed synonym and abbreviation entries (公租房 / 公共租赁住房), applied at query time;
search_dictionary_state is one row (id 1) whose version every change of the search vocabulary bumps (synonyms,
organ names): each process re-reads its dictionary when it sees a new version. The row is inserted here.
document.doc_number_key is the 文号 in canonical form (穗府办〔2011〕8号 whatever the brackets), filled here for the
existing records with the same function the projection uses.
"""
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import services.db

revision: str = 'catalog_0007'
down_revision: str | None = 'catalog_0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from catalog_service.domain.query import canonical_doc_number

    op.create_table('search_synonym',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('words', sa.JSON(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', services.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', services.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_synonym'))
    )
    state = op.create_table('search_dictionary_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', services.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_dictionary_state'))
    )
    op.bulk_insert(state, [{"id": 1, "version": 0, "updated_at": datetime.now(UTC)}])
    # Not a batch operation: on SQLite that copies the table, which drops the FTS5 triggers and renumbers rowids
    # (catalog_0002); ADD COLUMN is native on both databases.
    op.add_column('document', sa.Column('doc_number_key', sa.String(length=100), nullable=True))
    op.create_index(op.f('ix_document_doc_number_key'), 'document', ['doc_number_key'], unique=False)
    bind = op.get_bind()
    document = sa.table('document', sa.column('id', sa.String), sa.column('doc_number', sa.String),
                        sa.column('doc_number_key', sa.String))
    rows = bind.execute(sa.select(document.c.id, document.c.doc_number)
                        .where(document.c.doc_number.is_not(None))).all()
    for row in rows:
        bind.execute(document.update().where(document.c.id == row.id)
                     .values(doc_number_key=canonical_doc_number(row.doc_number)))


def downgrade() -> None:
    op.drop_index(op.f('ix_document_doc_number_key'), table_name='document')
    op.execute("ALTER TABLE document DROP COLUMN doc_number_key")  # native on SQLite ≥ 3.35 too: no table copy
    op.drop_table('search_dictionary_state')
    op.drop_table('search_synonym')
