"""staff directory (办理人员名录): the organ's handling staff as their tokens showed them, for assignment

Revision ID: request_0007
Revises: request_0006
Create Date: 2026-12-07 00:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.db import UtcDateTime

revision: str = 'request_0007'
down_revision: str | None = 'request_0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'staff_member',
        sa.Column('organ_code', sa.String(length=18), nullable=False),
        sa.Column('sub', sa.String(length=100), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('roles', sa.JSON(), nullable=False),
        sa.Column('last_seen_at', UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('organ_code', 'sub'),
    )


def downgrade() -> None:
    op.drop_table('staff_member')
