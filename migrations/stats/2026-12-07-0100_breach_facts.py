"""breach facts: statutory breaches per application (违规记录, legal-rules §1.13) for the breaches dashboard

Revision ID: stats_0005
Revises: stats_0004
Create Date: 2026-12-07 01:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'stats_0005'
down_revision: str | None = 'stats_0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Empty at first: the breaches of applications ingested before this table existed appear once their next event
    # arrives, or at once after a rebuild from cursor 0 (every application event carries its whole breach list).
    op.create_table(
        'breach_fact',
        sa.Column('application_id', sa.String(length=36), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=48), nullable=False),
        sa.Column('article', sa.String(length=64), nullable=False),
        sa.Column('organ_code', sa.String(length=18), nullable=False),
        sa.Column('occurred_on', sa.Date(), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint('application_id', 'seq', name=op.f('pk_breach_fact')),
    )
    op.create_index('ix_breach_fact_organ_occurred', 'breach_fact', ['organ_code', 'occurred_on'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_breach_fact_organ_occurred', table_name='breach_fact')
    op.drop_table('breach_fact')
