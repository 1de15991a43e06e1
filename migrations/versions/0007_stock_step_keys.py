"""stock steps from phones carry a request key, so that a retried step is applied once

Revision ID: 0007_stock_step_keys
Revises: 0006_report_indexes
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_stock_step_keys'
down_revision = '0006_report_indexes'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('stock_movements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_key', sa.String(length=80), nullable=True))
        batch_op.create_unique_constraint('uq_stock_movements_request_key', ['lot_id', 'request_key'])


def downgrade():
    with op.batch_alter_table('stock_movements', schema=None) as batch_op:
        batch_op.drop_constraint('uq_stock_movements_request_key', type_='unique')
        batch_op.drop_column('request_key')
