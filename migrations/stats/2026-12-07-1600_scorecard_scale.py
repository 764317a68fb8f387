"""Scorecard at scale and two indicators (issue 16 item 6): indexes for the grouped scorecard aggregates and the
placements' publication days (document_column_fact.published_on / withdrawn_on, backfilled); the
依申请转主动 facts (application_fact.info_key, proactive_task_fact) and the attachment checks (attachment_check_fact)

Revision ID: stats_0008
Revises: stats_0007
Create Date: 2026-12-07 16:00:00

Facts written before this revision have no info_key until the application's next event (or a rebuild from cursor 0).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'stats_0008'
down_revision: str | None = 'stats_0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('application_fact', sa.Column('info_key', sa.String(length=64), nullable=True))
    # A column's explicit placements carry their record's public life, so its last update is one index probe.
    op.add_column('document_column_fact', sa.Column('published_on', sa.Date(), nullable=True))
    op.add_column('document_column_fact', sa.Column('withdrawn_on', sa.Date(), nullable=True))
    op.execute("UPDATE document_column_fact SET "
               "published_on = (SELECT d.published_on FROM score_document_fact d "
               "WHERE d.document_id = document_column_fact.document_id), "
               "withdrawn_on = (SELECT d.withdrawn_on FROM score_document_fact d "
               "WHERE d.document_id = document_column_fact.document_id)")
    op.create_index('ix_document_column_fact_column_published', 'document_column_fact',
                    ['column_id', 'published_on'])
    op.drop_index('ix_score_document_fact_organ_published', table_name='score_document_fact')
    op.create_index('ix_score_document_fact_organ_published', 'score_document_fact', ['organ_code', 'published_on'],
                    postgresql_include=['publication_due_on', 'withdrawn_on'])
    op.create_index('ix_score_document_fact_organ_genre_published', 'score_document_fact',
                    ['organ_code', 'genre', 'published_on'])
    op.create_index('ix_score_document_fact_organ_subject_published', 'score_document_fact',
                    ['organ_code', 'subject_category', 'published_on'])
    op.create_index('ix_score_document_fact_policies', 'score_document_fact', ['organ_code', 'published_on'],
                    postgresql_where=sa.text('needs_interpretation'), sqlite_where=sa.text('needs_interpretation'))
    op.create_index('ix_score_document_fact_organ_expires', 'score_document_fact', ['organ_code', 'expires_on'],
                    postgresql_where=sa.text('expires_on IS NOT NULL'),
                    sqlite_where=sa.text('expires_on IS NOT NULL'))
    op.create_table(
        'proactive_task_fact',
        sa.Column('task_id', sa.String(length=36), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('organ_code', sa.String(length=18), nullable=False),
        sa.Column('info_key', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('document_id', sa.String(length=36), nullable=True),
        sa.Column('closed_on', sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint('task_id', name=op.f('pk_proactive_task_fact')))
    op.create_index('ix_proactive_task_fact_organ_info', 'proactive_task_fact', ['organ_code', 'info_key'])
    op.create_table(
        'attachment_check_fact',
        sa.Column('attachment_id', sa.String(length=36), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('document_id', sa.String(length=36), nullable=False),
        sa.Column('organ_code', sa.String(length=18), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('problem', sa.String(length=32), nullable=True),
        sa.Column('failing_since', sa.Date(), nullable=True),
        sa.Column('repaired_on', sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint('attachment_id', name=op.f('pk_attachment_check_fact')))
    op.create_index('ix_attachment_check_fact_organ_failing', 'attachment_check_fact',
                    ['organ_code', 'failing_since'])


def downgrade() -> None:
    op.drop_index('ix_attachment_check_fact_organ_failing', table_name='attachment_check_fact')
    op.drop_table('attachment_check_fact')
    op.drop_index('ix_proactive_task_fact_organ_info', table_name='proactive_task_fact')
    op.drop_table('proactive_task_fact')
    op.drop_index('ix_score_document_fact_organ_expires', table_name='score_document_fact')
    op.drop_index('ix_score_document_fact_policies', table_name='score_document_fact')
    op.drop_index('ix_score_document_fact_organ_subject_published', table_name='score_document_fact')
    op.drop_index('ix_score_document_fact_organ_genre_published', table_name='score_document_fact')
    op.drop_index('ix_score_document_fact_organ_published', table_name='score_document_fact')
    op.create_index('ix_score_document_fact_organ_published', 'score_document_fact', ['organ_code', 'published_on'])
    op.drop_index('ix_document_column_fact_column_published', table_name='document_column_fact')
    op.drop_column('document_column_fact', 'withdrawn_on')
    op.drop_column('document_column_fact', 'published_on')
    op.drop_column('application_fact', 'info_key')
