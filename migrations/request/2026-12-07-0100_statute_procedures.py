"""the statute's procedures (legal-rules §1.13, issue 13 items 2–6): 第三十五条 steps, 正当理由, notice delivery

application.explanation_*: the 第三十五条 procedure — the day the applicant was asked to explain (说明理由), the
reply window, the day and text of the reasons, the organ's judgement; deferral_decided_on / deferral_reason: the
延迟答复 decision (before expiry) and why. good_cause_*: 正当理由 (第三十条) — the handler's recorded decision that
accepts a late supplement and re-opens a 视为放弃 closure (reopened_closure_on: the closure undone).
letter.delivery_channel / delivered_on / delivery_recorded_by / window_days: notices whose window runs from the
applicant's receipt (补正, 收费通知, 说明理由) are delivered per channel (electronic: the day sent; post: the day signed
for) and their window counts from delivery. Letters issued before this revision keep null: their windows were set.

Revision ID: request_0006
Revises: request_0005
Create Date: 2026-12-07 01:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'request_0006'
down_revision: str | None = 'request_0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.add_column(sa.Column('explanation_requested_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('explanation_due_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('explanation_received_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('explanation_reasons', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('explanation_judgement', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('deferral_decided_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('deferral_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('good_cause_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('good_cause_decided_by', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('good_cause_decided_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('reopened_closure_on', sa.Date(), nullable=True))


    with op.batch_alter_table('letter', schema=None) as batch_op:
        batch_op.add_column(sa.Column('delivery_channel', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('delivered_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('delivery_recorded_by', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('window_days', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('letter', schema=None) as batch_op:
        for column in ('window_days', 'delivery_recorded_by', 'delivered_on', 'delivery_channel'):
            batch_op.drop_column(column)
    with op.batch_alter_table('application', schema=None) as batch_op:
        for column in ('reopened_closure_on', 'good_cause_decided_on', 'good_cause_decided_by', 'good_cause_reason',
                       'deferral_reason', 'deferral_decided_on', 'explanation_judgement', 'explanation_reasons',
                       'explanation_received_on', 'explanation_due_on', 'explanation_requested_on'):
            batch_op.drop_column(column)
