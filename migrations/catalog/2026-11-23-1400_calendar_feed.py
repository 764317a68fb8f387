"""working-day calendar learnt from the request service's feed (calendar.year_loaded)

calendar_year / calendar_day hold the years the request service (which owns the calendar) announced; years it never
announced fall back to the chinese-calendar package. calendar_state is one row (id 1) whose generation is bumped when
a year changes: every process's cached calendar snapshot is keyed by it, and its row lock orders deadline writers
against the consumer (catalog_service/domain/calendar.py). The row is inserted here.

Revision ID: catalog_0004
Revises: catalog_0003
Create Date: 2026-11-23 14:00:00
"""
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import services.db

revision: str = 'catalog_0004'
down_revision: str | None = 'catalog_0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    state = op.create_table('calendar_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('updated_at', services.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_state'))
    )
    op.create_table('calendar_year',
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('notice', sa.Text(), nullable=True),
    sa.Column('source_event_id', sa.BigInteger(), nullable=False),
    sa.Column('source_version', sa.Integer(), nullable=False),
    sa.Column('learnt_at', services.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_calendar_year'))
    )
    op.create_table('calendar_day',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.ForeignKeyConstraint(['year'], ['calendar_year.year'], name=op.f('fk_calendar_day_year_calendar_year'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_calendar_day'))
    )
    with op.batch_alter_table('calendar_day', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_day_year'), ['year'], unique=False)
    op.bulk_insert(state, [{'id': 1, 'generation': 0, 'updated_at': datetime(2026, 11, 23, 6, 0, tzinfo=UTC)}])


def downgrade() -> None:
    with op.batch_alter_table('calendar_day', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_day_year'))

    op.drop_table('calendar_day')
    op.drop_table('calendar_year')
    op.drop_table('calendar_state')
