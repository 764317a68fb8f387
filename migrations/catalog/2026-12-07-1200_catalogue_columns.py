"""catalogue columns (公开目录栏目) with update rules, explicit placements, and the 解读 duty of policies

Revision ID: catalog_0010
Revises: catalog_0009
Create Date: 2026-12-07 12:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.db

revision: str = 'catalog_0010'
down_revision: str | None = 'catalog_0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'catalog_column',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('organ_id', sa.String(length=36), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('rule', sa.String(length=16), nullable=False),
        sa.Column('every', sa.Integer(), nullable=True),
        sa.Column('unit', sa.String(length=8), nullable=True),
        sa.Column('statutory_date', sa.String(length=5), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('genres', sa.JSON(), nullable=False),
        sa.Column('subject_categories', sa.JSON(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', services.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['organ_id'], ['organ.id'], name=op.f('fk_catalog_column_organ_id_organ')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_column')),
        sa.UniqueConstraint('organ_id', 'name', name='uq_catalog_column_organ_name'),
    )
    op.create_index(op.f('ix_catalog_column_organ_id'), 'catalog_column', ['organ_id'], unique=False)
    op.add_column('document', sa.Column('major_policy', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('document', sa.Column('interpretation_due_on', sa.Date(), nullable=True))
    op.add_column('document', sa.Column('column_ids', sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column('document', 'column_ids')
    op.drop_column('document', 'interpretation_due_on')
    op.drop_column('document', 'major_policy')
    op.drop_index(op.f('ix_catalog_column_organ_id'), table_name='catalog_column')
    op.drop_table('catalog_column')
