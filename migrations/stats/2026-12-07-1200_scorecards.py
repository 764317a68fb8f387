"""scorecards (考评): catalogue columns, column placements and 解读 duties as event-time facts; indicator sheets

Revision ID: stats_0006
Revises: stats_0005
Create Date: 2026-12-07 12:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.db

revision: str = 'stats_0006'
down_revision: str | None = 'stats_0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Empty at first: filled from the catalogue's feed (a rebuild from cursor 0 fills them for old records).
    op.create_table(
        'score_document_fact',
        sa.Column('document_id', sa.String(length=36), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('organ_code', sa.String(length=18), nullable=False),
        sa.Column('index_no', sa.String(length=64), nullable=True),
        sa.Column('genre', sa.String(length=40), nullable=True),
        sa.Column('subject_category', sa.String(length=40), nullable=True),
        sa.Column('published_on', sa.Date(), nullable=False),
        sa.Column('withdrawn_on', sa.Date(), nullable=True),
        sa.Column('publication_due_on', sa.Date(), nullable=True),
        sa.Column('needs_interpretation', sa.Boolean(), nullable=False),
        sa.Column('interpretation_due_on', sa.Date(), nullable=True),
        sa.Column('interpretation_of', sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint('document_id', name=op.f('pk_score_document_fact')),
    )
    op.create_index('ix_score_document_fact_organ_published', 'score_document_fact', ['organ_code', 'published_on'],
                    unique=False)
    op.create_index(op.f('ix_score_document_fact_interpretation_of'), 'score_document_fact', ['interpretation_of'],
                    unique=False)
    op.create_table(
        'document_column_fact',
        sa.Column('document_id', sa.String(length=36), nullable=False),
        sa.Column('column_id', sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint('document_id', 'column_id', name=op.f('pk_document_column_fact')),
    )
    op.create_index(op.f('ix_document_column_fact_column_id'), 'document_column_fact', ['column_id'], unique=False)
    op.create_table(
        'column_fact',
        sa.Column('column_id', sa.String(length=36), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('organ_code', sa.String(length=18), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('rule', sa.String(length=16), nullable=False),
        sa.Column('every', sa.Integer(), nullable=True),
        sa.Column('unit', sa.String(length=8), nullable=True),
        sa.Column('statutory_date', sa.String(length=5), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('genres', sa.JSON(), nullable=False),
        sa.Column('subject_categories', sa.JSON(), nullable=False),
        sa.Column('created_on', sa.Date(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('column_id', name=op.f('pk_column_fact')),
    )
    op.create_index(op.f('ix_column_fact_organ_code'), 'column_fact', ['organ_code'], unique=False)
    op.create_table(
        'scorecard_sheet',
        sa.Column('sheet_id', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('source', sa.Text(), nullable=False),
        sa.Column('definition', sa.JSON(), nullable=False),
        sa.Column('loaded_by', sa.String(length=100), nullable=False),
        sa.Column('loaded_at', services.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('sheet_id', 'version', name=op.f('pk_scorecard_sheet')),
    )


def downgrade() -> None:
    op.drop_table('scorecard_sheet')
    op.drop_index(op.f('ix_column_fact_organ_code'), table_name='column_fact')
    op.drop_table('column_fact')
    op.drop_index(op.f('ix_document_column_fact_column_id'), table_name='document_column_fact')
    op.drop_table('document_column_fact')
    op.drop_index(op.f('ix_score_document_fact_interpretation_of'), table_name='score_document_fact')
    op.drop_index('ix_score_document_fact_organ_published', table_name='score_document_fact')
    op.drop_table('score_document_fact')
