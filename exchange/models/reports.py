"""Monthly report snapshots: what a chamber's territory looked like once a month had settled."""
from __future__ import annotations

import datetime as dt

from decimal import Decimal

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from exchange.extensions import db
from exchange.models.accounts import User
from exchange.models.lots import Lot
from exchange.models.reservations import Reservation
from exchange.models.types import Quantity, UTCDateTime, utcnow


class ReportSnapshot(db.Model):
    """One chamber's reports for one Paris calendar month, stored as they were when taken."""

    __tablename__ = "report_snapshots"
    # One per chamber and month: the job can run twice, or after a crash, and still make one.
    __table_args__ = (UniqueConstraint("chamber_id", "month", name="uq_report_snapshots_chamber_month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chamber_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    month: Mapped[str] = mapped_column(String(7))  # "2025-03"
    # The territory and threshold in force when taken: a chamber's territory may change later.
    territory: Mapped[list[str]] = mapped_column(JSON, default=list)
    min_producers: Mapped[int] = mapped_column()
    # {"category": summary, "department": ..., "commune": ..., "product": ..., "prices": price stats}
    data: Mapped[dict] = mapped_column(JSON)
    taken_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    chamber: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<ReportSnapshot {self.id} chamber {self.chamber_id} {self.month}>"


# The report indexes live here, beside the reports, though they index other aggregates' tables
# (docs/reports.md explains each; migration 0006_report_indexes creates them).

# Every column the summary reads from a reservation, in lot order: SQLite sums each lot's
# reservations in one streaming pass over this index without touching the table, and PostgreSQL
# can answer from it alone (index-only scan) once the table is vacuumed.
Index("ix_reservations_report", Reservation.lot_id, Reservation.status, Reservation.trader_id,
      Reservation.quantity, Reservation.price_cents, Reservation.distance_km)
# The lots posted in a period, with what the summary groups and sums, without reading the table.
Index("ix_lots_report", Lot.created_at, Lot.farm_id, Lot.unit, Lot.category, Lot.quantity_offered)


# The report rollup (docs/reports.md, exchange/reports/rollup.py): what the summary would otherwise
# re-read from every reservation, kept by the reservation services in the transaction that changes it.

def _count():
    return mapped_column(Integer, default=0, server_default="0")


class LotReportKeys:
    """A lot's report keys, copied onto the rollup's rows as the summary computes them: posting instant, Paris
    month, farm's department and commune (INSEE), category, product (trimmed, lower case). Kept by rollup.relabel
    when a lot or its farm is edited."""

    posted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    month: Mapped[str] = mapped_column(String(7))
    department: Mapped[str] = mapped_column(String(3))
    commune: Mapped[str] = mapped_column(String(5))
    category: Mapped[str] = mapped_column(String(16))
    product: Mapped[str] = mapped_column(String(120))


class ReportLotTotals(LotReportKeys, db.Model):
    """One lot's reservations summed: how many are in each state, and the quantities, value and trips,
    beside the lot's report keys, so that the summary groups the sums without reading a lot."""

    __tablename__ = "report_lot_totals"

    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"), primary_key=True)
    unit: Mapped[str] = mapped_column(String(8))
    pending: Mapped[int] = _count()
    confirmed: Mapped[int] = _count()
    collected: Mapped[int] = _count()
    declined: Mapped[int] = _count()
    cancelled: Mapped[int] = _count()
    expired: Mapped[int] = _count()
    no_show: Mapped[int] = _count()
    # Still taken from the lot (pending, confirmed, collected), as in the stock invariant.
    quantity_reserved: Mapped[Decimal] = mapped_column(Quantity, default=0, server_default="0")
    quantity_collected: Mapped[Decimal] = mapped_column(Quantity, default=0, server_default="0")
    # Σ quantity × unit price of collected reservations, in thousandths of a cent: exact.
    value_millicents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Collected reservations whose trader has a base: the trips, their metres and what they carried.
    trips: Mapped[int] = _count()
    distance_m: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    quantity_travelled: Mapped[Decimal] = mapped_column(Quantity, default=0, server_default="0")


class ReportLotTrader(LotReportKeys, db.Model):
    """A trader who reserved on a lot, with the lot's report keys copied so that counting traders reads no lot."""

    __tablename__ = "report_lot_traders"

    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"), primary_key=True)
    trader_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    reservations: Mapped[int] = mapped_column(Integer)


# The lots of a period (and territory) that have reservations.
Index("ix_report_lot_totals_scope", ReportLotTotals.posted_at, ReportLotTotals.department)
# The pairs of a period (and territory), with every key, read from the index alone.
Index("ix_report_lot_traders_scope", ReportLotTrader.posted_at, ReportLotTrader.department, ReportLotTrader.month,
      ReportLotTrader.category, ReportLotTrader.commune, ReportLotTrader.product, ReportLotTrader.trader_id)


class ReportMonthTrader(db.Model):
    """How many reservations a trader made on lots posted in a (Paris month, department): who was active where, when.

    The (lot, trader) pairs above answer distinct traders for any grouping; this coarser table answers
    them for the department and month groupings, which chambers ask most, from a fifth of the rows
    (one per month × department × trader instead of one per lot × trader). Reservations are never
    deleted, so a row, once there, stays there: its count only grows (or moves with a farm's department).
    """

    __tablename__ = "report_month_traders"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    department: Mapped[str] = mapped_column(String(3), primary_key=True)
    trader_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    reservations: Mapped[int] = mapped_column(Integer)


class ReportMonthProducer(db.Model):
    """A producer's lots posted in a (Paris month, department), per unit: how many, and the quantity they offer.

    The department and month groupings count producers and sum the quantities offered from these rows
    for the whole months of a period, instead of grouping every lot: one row per month, department,
    unit and producer (168,026 rows for the benchmark's 200,000 lots), read without a join. Kept by
    the lot services (posting a lot, changing its stock) and moved with a farm's department.
    """

    __tablename__ = "report_month_producers"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    department: Mapped[str] = mapped_column(String(3), primary_key=True)
    unit: Mapped[str] = mapped_column(String(8), primary_key=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    lots: Mapped[int] = mapped_column(Integer)
    offered: Mapped[Decimal] = mapped_column(Quantity)
