"""letters fit to send (issue 14 item 9): 文号 per organ, year and series; the organ's 公开指南 contact facts

letter.number: the letter's 文号 (e.g. 测试市财政局依复〔2026〕12号), unique, assigned when it is issued; letters
issued before this revision keep null. letter_serial: the last serial handed out per prefix (the organ's 简称), year and series.
known_organ.short_name / office_address / office_hours / phone: learnt from the catalogue's organ events (they
were in the payload all along), printed on the letters (文号 prefix, contact line).

Revision ID: request_0008
Revises: request_0007
Create Date: 2026-12-07 03:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'request_0008'
down_revision: str | None = 'request_0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('known_organ', schema=None) as batch_op:
        batch_op.add_column(sa.Column('short_name', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('office_address', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('office_hours', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('phone', sa.String(length=50), nullable=True))
    with op.batch_alter_table('letter', schema=None) as batch_op:
        batch_op.add_column(sa.Column('number', sa.String(length=240), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_letter_number'), ['number'])
    op.create_table(
        'letter_serial',
        sa.Column('prefix', sa.String(length=200), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('series', sa.String(length=16), nullable=False),
        sa.Column('last_serial', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('prefix', 'year', 'series', name=op.f('pk_letter_serial')),
    )


def downgrade() -> None:
    op.drop_table('letter_serial')
    with op.batch_alter_table('letter', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_letter_number'), type_='unique')
        batch_op.drop_column('number')
    with op.batch_alter_table('known_organ', schema=None) as batch_op:
        batch_op.drop_column('phone')
        batch_op.drop_column('office_hours')
        batch_op.drop_column('office_address')
        batch_op.drop_column('short_name')
