"""依申请转主动 (条例第四十四条, issue 16 item 5): application.info_key and the proactive_task table

application.info_key: digest of the requested information's normalised 名称 and 文号 (request_service/domain/
proactive.py), computed here for the applications already stored, so earlier requests count towards the threshold.
proactive_task: one "consider proactive disclosure" task per organ and information.

Revision ID: request_0009
Revises: request_0008
Create Date: 2026-12-07 14:00:00
"""
import hashlib
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.db

revision: str = 'request_0009'
down_revision: str | None = 'request_0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def info_key(title: str | None, doc_number: str | None) -> str:
    """As request_service/domain/proactive.py computes it at intake (copied: a migration must not change when the
    code does)."""
    def fold(text: str | None) -> str:
        return "".join(ch for ch in unicodedata.normalize("NFKC", text or "").lower() if ch.isalnum())

    return hashlib.sha256(f"{fold(title)}|{fold(doc_number)}".encode()).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.add_column(sa.Column('info_key', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_application_organ_info', ['organ_code', 'info_key'], unique=False)
    bind = op.get_bind()
    app = sa.table('application', sa.column('id'), sa.column('info_title'), sa.column('info_doc_number'),
                   sa.column('info_key'))
    rows = bind.execute(sa.select(app.c.id, app.c.info_title, app.c.info_doc_number)).all()
    for row in rows:
        bind.execute(app.update().where(app.c.id == row.id).values(
            info_key=info_key(row.info_title, row.info_doc_number)))
    op.create_table(
        'proactive_task',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('organ_code', sa.String(length=18), nullable=False),
        sa.Column('info_key', sa.String(length=64), nullable=False),
        sa.Column('info_title', sa.String(length=500), nullable=False),
        sa.Column('info_doc_number', sa.String(length=100), nullable=True),
        sa.Column('granted_application_id', sa.String(length=36), nullable=False),
        sa.Column('opened_on', sa.Date(), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('document_id', sa.String(length=36), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('closed_on', sa.Date(), nullable=True),
        sa.Column('closed_by', sa.String(length=100), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', services.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_proactive_task')),
        sa.UniqueConstraint('organ_code', 'info_key', name='uq_proactive_task_info'),
    )
    op.create_index('ix_proactive_task_organ_status_due', 'proactive_task', ['organ_code', 'status', 'due_on'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_proactive_task_organ_status_due', table_name='proactive_task')
    op.drop_table('proactive_task')
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.drop_index('ix_application_organ_info')
        batch_op.drop_column('info_key')
