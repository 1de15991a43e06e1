"""report rollup: each lot's reservation totals and (lot, trader) pairs with the lot's report keys, backfilled

Revision ID: 0008_report_rollup
Revises: 0007_stock_step_keys
"""
from alembic import op
import sqlalchemy as sa

from exchange.models.types import Quantity, UTCDateTime


revision = '0008_report_rollup'
down_revision = '0007_stock_step_keys'
branch_labels = None
depends_on = None


def _count(name):
    return sa.Column(name, sa.Integer(), server_default='0', nullable=False)


def upgrade():
    op.create_table(
        'report_lot_totals',
        sa.Column('lot_id', sa.Integer(), nullable=False),
        *[_count(state) for state in ('pending', 'confirmed', 'collected', 'declined', 'cancelled', 'expired',
                                      'no_show')],
        sa.Column('quantity_reserved', Quantity(), server_default='0', nullable=False),
        sa.Column('quantity_collected', Quantity(), server_default='0', nullable=False),
        sa.Column('value_millicents', sa.BigInteger(), server_default='0', nullable=False),
        _count('trips'),
        sa.Column('distance_m', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('quantity_travelled', Quantity(), server_default='0', nullable=False),
        sa.ForeignKeyConstraint(['lot_id'], ['lots.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('lot_id'),
    )
    op.create_table(
        'report_lot_traders',
        sa.Column('lot_id', sa.Integer(), nullable=False),
        sa.Column('trader_id', sa.Integer(), nullable=False),
        sa.Column('reservations', sa.Integer(), nullable=False),
        sa.Column('posted_at', UTCDateTime(), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('department', sa.String(length=3), nullable=False),
        sa.Column('commune', sa.String(length=5), nullable=False),
        sa.Column('category', sa.String(length=16), nullable=False),
        sa.Column('product', sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(['lot_id'], ['lots.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['trader_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('lot_id', 'trader_id'),
    )
    op.create_index('ix_report_lot_traders_scope', 'report_lot_traders',
                    ['posted_at', 'department', 'month', 'category', 'commune', 'product', 'trader_id'], unique=False)
    # Filled from the reservations already there by 0010_report_rollup_keys, which gives report_lot_totals the
    # lots' keys: the backfill is the application's own SQL (`rollup.rebuild`), written for the tables as they are now.


def downgrade():
    op.drop_index('ix_report_lot_traders_scope', table_name='report_lot_traders')
    op.drop_table('report_lot_traders')
    op.drop_table('report_lot_totals')
