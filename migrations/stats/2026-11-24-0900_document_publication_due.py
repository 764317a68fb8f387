"""document facts keep formed_on and publication_due_on (publication timeliness on the dashboards)

Revision ID: stats_0003
Revises: stats_0002
Create Date: 2026-11-24 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'stats_0003'
down_revision: str | None = 'stats_0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: documents ingested before the catalogue announced these fields (and documents without a recorded
    # formation date) have none; the dashboards count them as "no due date".
    with op.batch_alter_table('document_fact', schema=None) as batch_op:
        batch_op.add_column(sa.Column('formed_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('publication_due_on', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('document_fact', schema=None) as batch_op:
        batch_op.drop_column('publication_due_on')
        batch_op.drop_column('formed_on')
