"""redactions anchored on their text (区分处理), the role that added them, redaction steps in the review log

Revision ID: catalog_0006
Revises: catalog_0005
Create Date: 2026-12-06 21:00:00

Security review (issue 11) items 3 and 4. Each redaction keeps the exact text it withholds, some context on each
side and an anchor state (catalog_service/domain/anchors.py), and the role it was added in; review steps name the
redaction they are about. Existing redactions are anchored on the text now at their offsets (the only position
known); one whose offsets fall outside its field is `lost`. Their role is unknown (NULL): they are treated as the
secrecy officer's, so only a secrecy officer removes them.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'catalog_0006'
down_revision: str | None = 'catalog_0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONTEXT = 16  # as catalog_service.domain.anchors.CONTEXT when this was written


def upgrade() -> None:
    with op.batch_alter_table('redaction', schema=None) as batch_op:
        batch_op.add_column(sa.Column('text', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('prefix', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('suffix', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('state', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('created_role', sa.String(length=32), nullable=True))
    with op.batch_alter_table('review_step', schema=None) as batch_op:
        batch_op.add_column(sa.Column('redaction_id', sa.String(length=36), nullable=True))

    bind = op.get_bind()
    redaction = sa.table('redaction', sa.column('id'), sa.column('document_id'), sa.column('field'),
                         sa.column('start'), sa.column('end'), sa.column('text'), sa.column('prefix'),
                         sa.column('suffix'), sa.column('state'))
    document = sa.table('document', sa.column('id'), sa.column('title'), sa.column('summary'), sa.column('body'))
    rows = bind.execute(sa.select(redaction.c.id, redaction.c.field, redaction.c.start, redaction.c.end,
                                  document.c.title, document.c.summary, document.c.body)
                        .join(document, document.c.id == redaction.c.document_id)).all()
    for row in rows:
        text = {"title": row.title, "summary": row.summary, "body": row.body}.get(row.field) or ""
        segment = text[row.start:row.end]
        bind.execute(sa.update(redaction).where(redaction.c.id == row.id).values(
            text=segment, prefix=text[max(0, row.start - CONTEXT):row.start], suffix=text[row.end:row.end + CONTEXT],
            state="anchored" if segment and row.end <= len(text) else "lost"))

    with op.batch_alter_table('redaction', schema=None) as batch_op:
        batch_op.alter_column('text', existing_type=sa.Text(), nullable=False)
        batch_op.alter_column('prefix', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('suffix', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('state', existing_type=sa.String(length=16), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('review_step', schema=None) as batch_op:
        batch_op.drop_column('redaction_id')
    with op.batch_alter_table('redaction', schema=None) as batch_op:
        batch_op.drop_column('created_role')
        batch_op.drop_column('state')
        batch_op.drop_column('suffix')
        batch_op.drop_column('prefix')
        batch_op.drop_column('text')
