"""document validity lifecycle: valid_until (explicit 有效期至), expires_on, ceased_on (issue 16 item 3)

Revision ID: catalog_0012
Revises: catalog_0011
Create Date: 2026-12-07 14:00:00

Existing records keep null: their 有效期 is unknown until they are published again (set_expiry runs at
publication); ceased_on is filled for rows the ORM writes next. Records already repealed get ceased_on from their
repeal date here, so "in force on D" is right for them at once.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'catalog_0012'
down_revision: str | None = 'catalog_0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('document', sa.Column('valid_until', sa.Date(), nullable=True))
    op.add_column('document', sa.Column('expires_on', sa.Date(), nullable=True))
    op.add_column('document', sa.Column('ceased_on', sa.Date(), nullable=True))
    op.create_index(op.f('ix_document_expires_on'), 'document', ['expires_on'], unique=False)
    op.execute("UPDATE document SET ceased_on = repeal_date WHERE repeal_date IS NOT NULL")


def downgrade() -> None:
    op.drop_index(op.f('ix_document_expires_on'), table_name='document')
    op.drop_column('document', 'ceased_on')
    op.drop_column('document', 'expires_on')
    op.drop_column('document', 'valid_until')
