"""tamper-evident audit log (审计日志): hash-chained, append-only

Revision ID: request_0004
Revises: request_0003
Create Date: 2026-11-24 10:00:00

See services/audit.py. The triggers refuse UPDATE, DELETE (and on PostgreSQL TRUNCATE) of audit entries; the
hash chain detects changes made by someone who disables them.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.audit
import services.db

revision: str = 'request_0004'
down_revision: str | None = 'request_0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('at', services.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=200), nullable=False),
    sa.Column('entry', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_log'))
    )
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    op.execute(services.audit.SEED_HEAD)
    triggers = (services.audit.PG_APPEND_ONLY if op.get_bind().dialect.name == "postgresql"
                else services.audit.SQLITE_APPEND_ONLY)
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    triggers = (services.audit.PG_APPEND_ONLY_DOWN if op.get_bind().dialect.name == "postgresql"
                else services.audit.SQLITE_APPEND_ONLY_DOWN)
    for statement in triggers:
        op.execute(statement)
    op.drop_table('audit_head')
    op.drop_table('audit_log')
