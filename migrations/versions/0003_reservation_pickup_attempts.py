"""reservations: count wrong pickup codes and lock collection after too many

Revision ID: 0003_reservation_pickup_attempts
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

import exchange.models.types


revision = '0003_reservation_pickup_attempts'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('collect_failures', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('collect_locked_until', exchange.models.types.UTCDateTime(timezone=True),
                                      nullable=True))


def downgrade():
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_column('collect_locked_until')
        batch_op.drop_column('collect_failures')
