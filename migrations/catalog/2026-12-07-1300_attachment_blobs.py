"""attachment_blob: attachments' bytes in the database (CATALOG_ATTACHMENT_STORE=database, 多实例)

Revision ID: catalog_0011
Revises: catalog_0010
Create Date: 2026-12-07 12:00:00

Content-addressed by SHA-256 (one row per distinct content, shared by every attachment that has it): every
instance of the catalogue serves every file, and a database backup carries them.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.db

revision: str = 'catalog_0011'
down_revision: str | None = 'catalog_0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('attachment_blob',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', services.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_attachment_blob'))
    )


def downgrade() -> None:
    op.drop_table('attachment_blob')
