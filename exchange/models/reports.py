"""Monthly report snapshots: what a chamber's territory looked like once a month had settled."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from exchange.extensions import db
from exchange.models.accounts import User
from exchange.models.lots import Lot
from exchange.models.reservations import Reservation
from exchange.models.types import UTCDateTime, utcnow


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
