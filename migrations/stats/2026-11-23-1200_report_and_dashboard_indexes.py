"""indexes for the report's fee figures and the dashboards (fees per day, documents published per day)

Revision ID: stats_0002
Revises: stats_0001
Create Date: 2026-11-23 12:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'stats_0002'
down_revision: str | None = 'stats_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('application_fact', schema=None) as batch_op:
        # partial: only the few applications with a fee are indexed
        for name, column in (('ix_application_fact_organ_fee_noticed', 'fee_noticed_on'),
                             ('ix_application_fact_organ_fee_paid', 'fee_paid_on')):
            where = sa.text(f'{column} IS NOT NULL')
            batch_op.create_index(name, ['organ_code', column], unique=False, postgresql_where=where,
                                  sqlite_where=where)
    with op.batch_alter_table('document_fact', schema=None) as batch_op:
        batch_op.create_index('ix_document_fact_organ_published', ['organ_code', 'published_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('document_fact', schema=None) as batch_op:
        batch_op.drop_index('ix_document_fact_organ_published')
    with op.batch_alter_table('application_fact', schema=None) as batch_op:
        batch_op.drop_index('ix_application_fact_organ_fee_paid')
        batch_op.drop_index('ix_application_fact_organ_fee_noticed')
