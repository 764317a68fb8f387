"""document.search_text dropped: nothing has read it since the search index left the database

Revision ID: catalog_0013
Revises: catalog_0012
Create Date: 2026-12-07 14:30:00

search_text was the folded public text (NFKC, 繁→简, lower case) that the GIN / FTS5 indexes of catalog_0002 were
built over; catalog_0008 dropped those indexes (search is answered by the tantivy index, which folds the public
fields itself). Keeping the column filled cost every write of a record a fold of its whole text — about 0.2 s of
the catalogue's CPU per 1,000 records of a bulk import — and its bytes in the row, for no reader.
The downgrade adds it back and fills it from the public projection as refresh_projection did, so that
catalog_0008's downgrade can rebuild its indexes over it.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'catalog_0013'
down_revision: str | None = 'catalog_0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_column('document', 'search_text')


def downgrade() -> None:
    from catalog_service.textfold import fold

    op.add_column('document', sa.Column('search_text', sa.Text(), nullable=False, server_default=''))
    bind = op.get_bind()
    document = sa.table('document', sa.column('id'), sa.column('public_title'), sa.column('doc_number'),
                        sa.column('index_no'), sa.column('public_summary'), sa.column('keywords', sa.JSON),
                        sa.column('public_body'), sa.column('search_text'))
    rows = bind.execute(sa.select(document.c.id, document.c.public_title, document.c.doc_number,
                                  document.c.index_no, document.c.public_summary, document.c.keywords,
                                  document.c.public_body)).all()
    update = document.update().where(document.c.id == sa.bindparam('doc_id')).values(search_text=sa.bindparam('text'))
    batch = []
    for row in rows:
        batch.append({"doc_id": row.id, "text": fold("\n".join(filter(None, [
            row.public_title, row.doc_number or "", row.index_no or "", row.public_summary or "",
            " ".join(row.keywords or []), row.public_body])))})
        if len(batch) == 1000:
            bind.execute(update, batch)
            batch = []
    if batch:
        bind.execute(update, batch)
