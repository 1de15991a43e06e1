"""watch changes: the log that keeps every process's watch index in step

Revision ID: 0004_watch_changes
Revises: 0003_reservation_pickup_attempts
Create Date: 2026-11-26 16:30:00

"""
from alembic import op
import sqlalchemy as sa

import exchange.models.types


revision = '0004_watch_changes'
down_revision = '0003_reservation_pickup_attempts'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('watch_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    # The single counter row (see exchange/models/watches.py).
    op.execute("INSERT INTO watch_version (id, version) VALUES (1, 0)")
    op.create_table('watch_changes',
    sa.Column('version', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('watch_id', sa.Integer(), nullable=False),
    sa.Column('created_at', exchange.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('version')
    )
    with op.batch_alter_table('watch_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_watch_changes_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('watch_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_watch_changes_created_at'))
    op.drop_table('watch_changes')
    op.drop_table('watch_version')
