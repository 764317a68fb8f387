"""standard_adoption_fact and score_document_fact.standard_keywords (issue 16 item 4, standard-catalogue coverage)

Revision ID: stats_0009
Revises: stats_0008
Create Date: 2026-12-07 15:00:00

Keywords of facts written before this revision stay null until the record's next event (or a rebuild from cursor 0).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'stats_0009'
down_revision: str | None = 'stats_0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('score_document_fact', sa.Column('standard_keywords', sa.Text(), nullable=True))
    op.create_table(
        'standard_adoption_fact',
        sa.Column('adoption_id', sa.String(length=36), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('organ_code', sa.String(length=18), nullable=False),
        sa.Column('catalogue_code', sa.String(length=64), nullable=False),
        sa.Column('catalogue_version', sa.Integer(), nullable=False),
        sa.Column('area', sa.String(length=100), nullable=False),
        sa.Column('adopted_on', sa.Date(), nullable=False),
        sa.Column('items', sa.JSON(), nullable=False),
        sa.Column('mappings', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('adoption_id', name=op.f('pk_standard_adoption_fact')),
    )
    op.create_index(op.f('ix_standard_adoption_fact_organ_code'), 'standard_adoption_fact', ['organ_code'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_standard_adoption_fact_organ_code'), table_name='standard_adoption_fact')
    op.drop_table('standard_adoption_fact')
    op.drop_column('score_document_fact', 'standard_keywords')
