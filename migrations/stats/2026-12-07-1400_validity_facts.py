"""score_document_fact: expires_on and repeal_date (issue 16 item 3, validity reviews overdue)

Revision ID: stats_0007
Revises: stats_0006
Create Date: 2026-12-07 14:00:00

Facts written before this revision keep null until the record's next event (or a rebuild from cursor 0).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'stats_0007'
down_revision: str | None = 'stats_0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('score_document_fact', sa.Column('expires_on', sa.Date(), nullable=True))
    op.add_column('score_document_fact', sa.Column('repeal_date', sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column('score_document_fact', 'repeal_date')
    op.drop_column('score_document_fact', 'expires_on')
