"""attachment: the latest 附件无法打开 check (check_problem, checked_at, check_version) — issue 16 item 6

Revision ID: catalog_0014
Revises: catalog_0013
Create Date: 2026-12-07 16:00:00

Existing attachments start unchecked (checked_at null): the periodic check takes them first.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.db import UtcDateTime

revision: str = 'catalog_0014'
down_revision: str | None = 'catalog_0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('attachment', sa.Column('check_problem', sa.String(length=32), nullable=True))
    op.add_column('attachment', sa.Column('checked_at', UtcDateTime(timezone=True), nullable=True))
    op.add_column('attachment', sa.Column('check_version', sa.Integer(), nullable=False, server_default='0'))
    op.create_index(op.f('ix_attachment_checked_at'), 'attachment', ['checked_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_attachment_checked_at'), table_name='attachment')
    op.drop_column('attachment', 'check_version')
    op.drop_column('attachment', 'checked_at')
    op.drop_column('attachment', 'check_problem')
