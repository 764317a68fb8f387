"""webhook subscriptions (推送订阅) with their deliveries and delivery log; migrated records (历史数据迁移)

Revision ID: catalog_0009
Revises: catalog_0008
Create Date: 2026-12-07 09:00:00

webhook_subscription: an integration client's subscription to an organ's subtree, its signing secrets and state;
webhook_delivery: one outbox event per subscription, numbered per subscription and sent in that order;
webhook_attempt: the delivery log. document.migrated marks records imported with their real history
(bulk import `history`), document.validity_history keeps the validity changes they had before.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.db

revision: str = 'catalog_0009'
down_revision: str | None = 'catalog_0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table('webhook_subscription',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('organ_id', sa.String(length=36), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('event_types', sa.JSON(), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=True),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('previous_secret', sa.String(length=100), nullable=True),
    sa.Column('previous_secret_expires_at', services.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('disabled_reason', sa.String(length=500), nullable=True),
    sa.Column('failing_since', services.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('start_event_id', BIGINT, nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_until', services.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', services.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', services.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organ_id'], ['organ.id'], name=op.f('fk_webhook_subscription_organ_id_organ')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_subscription'))
    )
    op.create_index(op.f('ix_webhook_subscription_owner'), 'webhook_subscription', ['owner'], unique=False)
    op.create_index(op.f('ix_webhook_subscription_organ_id'), 'webhook_subscription', ['organ_id'], unique=False)
    op.create_table('webhook_delivery',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('subscription_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('event_id', BIGINT, nullable=False),
    sa.Column('event_type', sa.String(length=40), nullable=False),
    sa.Column('document_id', sa.String(length=36), nullable=False),
    sa.Column('occurred_at', services.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('first_attempt_at', services.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('next_attempt_at', services.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', services.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', services.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['subscription_id'], ['webhook_subscription.id'],
                            name=op.f('fk_webhook_delivery_subscription_id_webhook_subscription'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_delivery')),
    sa.UniqueConstraint('subscription_id', 'seq', name='uq_webhook_delivery_seq')
    )
    op.create_index('ix_webhook_delivery_due', 'webhook_delivery', ['subscription_id', 'status', 'seq'],
                    unique=False)
    op.create_table('webhook_attempt',
    sa.Column('id', BIGINT, autoincrement=True, nullable=False),
    sa.Column('delivery_id', sa.String(length=36), nullable=False),
    sa.Column('attempted_at', services.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('latency_ms', sa.Integer(), nullable=False),
    sa.Column('error', sa.String(length=300), nullable=True),
    sa.Column('response_excerpt', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['delivery_id'], ['webhook_delivery.id'],
                            name=op.f('fk_webhook_attempt_delivery_id_webhook_delivery'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_attempt'))
    )
    op.create_index(op.f('ix_webhook_attempt_delivery_id'), 'webhook_attempt', ['delivery_id'], unique=False)
    # ADD COLUMN, not a batch operation: on SQLite a batch copies the table and drops the FTS5 triggers (catalog_0002).
    op.add_column('document', sa.Column('migrated', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('document', sa.Column('validity_history', sa.JSON(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE document DROP COLUMN validity_history")
    op.execute("ALTER TABLE document DROP COLUMN migrated")
    op.drop_index(op.f('ix_webhook_attempt_delivery_id'), table_name='webhook_attempt')
    op.drop_table('webhook_attempt')
    op.drop_index('ix_webhook_delivery_due', table_name='webhook_delivery')
    op.drop_table('webhook_delivery')
    op.drop_index(op.f('ix_webhook_subscription_organ_id'), table_name='webhook_subscription')
    op.drop_index(op.f('ix_webhook_subscription_owner'), table_name='webhook_subscription')
    op.drop_table('webhook_subscription')
