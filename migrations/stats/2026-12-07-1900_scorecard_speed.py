"""Scorecard speed (issue 16): covering indexes for the city card's aggregates — the policies needing a 解读, the
records with a 有效期, the 解读 by the policy they name (now partial: only 解读 carry it) and the applications by
organ and closing day carry the columns the figures read, so on PostgreSQL they are index-only scans (the same names
and keys, so every other query that used them still does); the attachment checks carry their record's public life
(attachment_check_fact.published_on / withdrawn_on, backfilled), as the placements do since stats_0008

Revision ID: stats_0010
Revises: stats_0009
Create Date: 2026-12-07 19:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'stats_0010'
down_revision: str | None = 'stats_0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('attachment_check_fact', sa.Column('published_on', sa.Date(), nullable=True))
    op.add_column('attachment_check_fact', sa.Column('withdrawn_on', sa.Date(), nullable=True))
    op.execute("UPDATE attachment_check_fact SET "
               "published_on = (SELECT d.published_on FROM score_document_fact d "
               "WHERE d.document_id = attachment_check_fact.document_id), "
               "withdrawn_on = (SELECT d.withdrawn_on FROM score_document_fact d "
               "WHERE d.document_id = attachment_check_fact.document_id)")
    # Each document event updates its attachment checks by document_id: without an index, a scan per event.
    op.create_index('ix_attachment_check_fact_document', 'attachment_check_fact', ['document_id'])
    op.drop_index('ix_application_fact_organ_closed', table_name='application_fact')
    op.create_index('ix_application_fact_organ_closed', 'application_fact', ['organ_code', 'closed_on'],
                    postgresql_include=['due_on', 'status', 'outcome', 'info_key'])
    op.drop_index('ix_score_document_fact_policies', table_name='score_document_fact')
    op.create_index('ix_score_document_fact_policies', 'score_document_fact', ['organ_code', 'published_on'],
                    postgresql_include=['document_id', 'withdrawn_on', 'interpretation_due_on'],
                    postgresql_where=sa.text('needs_interpretation'), sqlite_where=sa.text('needs_interpretation'))
    op.drop_index('ix_score_document_fact_organ_expires', table_name='score_document_fact')
    op.create_index('ix_score_document_fact_organ_expires', 'score_document_fact', ['organ_code', 'expires_on'],
                    postgresql_include=['published_on', 'withdrawn_on', 'repeal_date'],
                    postgresql_where=sa.text('expires_on IS NOT NULL'),
                    sqlite_where=sa.text('expires_on IS NOT NULL'))
    op.drop_index('ix_score_document_fact_interpretation_of', table_name='score_document_fact')
    op.create_index('ix_score_document_fact_interpretation_of', 'score_document_fact', ['interpretation_of'],
                    postgresql_include=['published_on', 'withdrawn_on'],
                    postgresql_where=sa.text('interpretation_of IS NOT NULL'),
                    sqlite_where=sa.text('interpretation_of IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_score_document_fact_interpretation_of', table_name='score_document_fact')
    op.create_index('ix_score_document_fact_interpretation_of', 'score_document_fact', ['interpretation_of'])
    op.drop_index('ix_score_document_fact_organ_expires', table_name='score_document_fact')
    op.create_index('ix_score_document_fact_organ_expires', 'score_document_fact', ['organ_code', 'expires_on'],
                    postgresql_where=sa.text('expires_on IS NOT NULL'),
                    sqlite_where=sa.text('expires_on IS NOT NULL'))
    op.drop_index('ix_score_document_fact_policies', table_name='score_document_fact')
    op.create_index('ix_score_document_fact_policies', 'score_document_fact', ['organ_code', 'published_on'],
                    postgresql_where=sa.text('needs_interpretation'), sqlite_where=sa.text('needs_interpretation'))
    op.drop_index('ix_application_fact_organ_closed', table_name='application_fact')
    op.create_index('ix_application_fact_organ_closed', 'application_fact', ['organ_code', 'closed_on'])
    op.drop_index('ix_attachment_check_fact_document', table_name='attachment_check_fact')
    op.drop_column('attachment_check_fact', 'withdrawn_on')
    op.drop_column('attachment_check_fact', 'published_on')
