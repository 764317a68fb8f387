"""the statute as guard rails (legal-rules §1.13): extension decision date, supplement receipt date, breaches

application.extension_decided_on: the day the 延期 (条例第三十三条第二款) was decided — it must lie before the reply
period ran out, and is kept as evidence of that. application.supplement_received_on: the day the 补正 was received
(a 三（四）3 closure presupposes one). application.breaches: acts the 条例 allows but makes breaches (a 补正 notice later
than 7 working days after receipt, 第三十条), each {code, article, on, due_on}.

Revision ID: request_0005
Revises: request_0004
Create Date: 2026-12-06 22:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'request_0005'
down_revision: str | None = 'request_0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.add_column(sa.Column('extension_decided_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('supplement_received_on', sa.Date(), nullable=True))
        # Existing rows get an empty list; the default then goes (the model supplies it, as for withheld_parts).
        batch_op.add_column(sa.Column('breaches', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.alter_column('breaches', server_default=None)
    # Applications supplemented before this revision: the supplement's receipt day is where the clock restarted
    # (a restart segment after the first, domain/clock.py), so a 三（四）3 reply stays possible for them.
    op.execute(sa.text(
        "UPDATE application SET supplement_received_on = (SELECT max(s.start_on) FROM clock_segment s "
        "WHERE s.application_id = application.id AND s.restart AND s.seq > 1) "
        "WHERE EXISTS (SELECT 1 FROM clock_segment s WHERE s.application_id = application.id AND s.restart "
        "AND s.seq > 1)"))


def downgrade() -> None:
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.drop_column('breaches')
        batch_op.drop_column('supplement_received_on')
        batch_op.drop_column('extension_decided_on')
