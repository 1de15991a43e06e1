"""report rollup: the lots' keys on their totals, traders and producers per (Paris month, department); backfilled

Revision ID: 0010_report_rollup_keys
Revises: 0009_lots_position_covering
Create Date: 2026-11-26 23:00:00

The department x month summary over two years of the benchmark's region read 985,062 (lot, trader)
pairs for its distinct traders and joined 200,000 lots to their totals for its sums. Now:
- report_lot_totals carries each lot's report keys and unit (as report_lot_traders does), so the
  sums are grouped from it alone;
- report_month_traders holds one row per (month, department, trader): 211,338 rows give the traders
  of the department and month groupings (docs/reports.md, "How it stays fast");
- report_month_producers holds one row per (month, department, unit, producer) with their lots and the
  quantity offered: producers and quantities of those groupings without grouping every lot.
report_lot_totals is made again with its new columns (it is derived data), and every rollup table is
filled from the reservations with the application's own SQL, the one `flask check-integrity` compares with.
"""
from alembic import op
import sqlalchemy as sa

from exchange.models.types import Quantity, UTCDateTime

revision = "0010_report_rollup_keys"
down_revision = "0009_lots_position_covering"
branch_labels = None
depends_on = None

STATES = ("pending", "confirmed", "collected", "declined", "cancelled", "expired", "no_show")


def _count(name):
    return sa.Column(name, sa.Integer(), server_default="0", nullable=False)


def _totals(*keys):
    op.create_table(
        "report_lot_totals",
        sa.Column("lot_id", sa.Integer(), nullable=False),
        *keys,
        *[_count(state) for state in STATES],
        sa.Column("quantity_reserved", Quantity(), server_default="0", nullable=False),
        sa.Column("quantity_collected", Quantity(), server_default="0", nullable=False),
        sa.Column("value_millicents", sa.BigInteger(), server_default="0", nullable=False),
        _count("trips"),
        sa.Column("distance_m", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("quantity_travelled", Quantity(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("lot_id"),
    )


def upgrade():
    op.drop_table("report_lot_totals")
    _totals(sa.Column("posted_at", UTCDateTime(), nullable=False),
            sa.Column("month", sa.String(length=7), nullable=False),
            sa.Column("department", sa.String(length=3), nullable=False),
            sa.Column("commune", sa.String(length=5), nullable=False),
            sa.Column("category", sa.String(length=16), nullable=False),
            sa.Column("product", sa.String(length=120), nullable=False),
            sa.Column("unit", sa.String(length=8), nullable=False))
    op.create_index("ix_report_lot_totals_scope", "report_lot_totals", ["posted_at", "department"], unique=False)
    op.create_table(
        "report_month_traders",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("department", sa.String(length=3), nullable=False),
        sa.Column("trader_id", sa.Integer(), nullable=False),
        sa.Column("reservations", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["trader_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("month", "department", "trader_id"),
    )
    op.create_table(
        "report_month_producers",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("department", sa.String(length=3), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("producer_id", sa.Integer(), nullable=False),
        sa.Column("lots", sa.Integer(), nullable=False),
        sa.Column("offered", Quantity(), nullable=False),
        sa.ForeignKeyConstraint(["producer_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("month", "department", "unit", "producer_id"),
    )
    from exchange.reports import rollup

    rollup.rebuild(op.get_bind())


def downgrade():
    op.drop_table("report_month_producers")
    op.drop_table("report_month_traders")
    op.drop_index("ix_report_lot_totals_scope", table_name="report_lot_totals")
    op.drop_table("report_lot_totals")
    _totals()
    from exchange.reports import rollup

    bind = op.get_bind()
    expected = rollup.expected_totals(bind.dialect.name).subquery()
    columns = ["lot_id", *rollup.SUMMED]
    bind.execute(sa.table("report_lot_totals", *[sa.column(c) for c in columns]).insert().from_select(
        columns, sa.select(*[expected.c[c] for c in columns])))
