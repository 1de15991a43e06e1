"""Reservations: a trader's hold on part of a lot, until it is collected at the farm or ends."""
from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from exchange.extensions import db
from exchange.models.accounts import User
from exchange.models.lots import Lot
from exchange.models.types import Quantity, UTCDateTime, utcnow


class ReservationStatus(str, enum.Enum):
    pending = "pending"
    confirmed = "confirmed"
    collected = "collected"
    declined = "declined"
    cancelled = "cancelled"
    expired = "expired"
    no_show = "no_show"


# States whose quantity is still taken from the lot (the stock invariant sums these).
HOLDING_STATUSES = ("pending", "confirmed", "collected")
FINAL_STATUSES = ("collected", "declined", "cancelled", "expired", "no_show")


class Reservation(db.Model):
    __tablename__ = "reservations"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="ck_reservations_quantity_positive"),
        UniqueConstraint("trader_id", "idempotency_key", name="uq_reservations_idempotency"),
        Index("ix_reservations_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"), index=True)
    trader_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    # Unit price when reserved: the value of a sale does not move with later price edits.
    price_cents: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default=ReservationStatus.pending.value)
    pickup_code: Mapped[str] = mapped_column(String(8))
    pickup_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    idempotency_key: Mapped[str | None] = mapped_column(String(80))
    # Farm to trader base, great-circle, when the trader has a base: the food-miles of reports.
    distance_km: Mapped[float | None] = mapped_column(Float)
    hold_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Wrong pickup codes typed in a row, and the lock that follows too many: the code is short, guessing is bounded.
    collect_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    collect_locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    lot: Mapped[Lot] = relationship()
    trader: Mapped[User] = relationship()
    transitions: Mapped[list["ReservationTransition"]] = relationship(
        back_populates="reservation", cascade="all, delete-orphan", order_by="ReservationTransition.id")


class ReservationTransition(db.Model):
    """Who moved a reservation from one state to another, and when."""

    __tablename__ = "reservation_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    reservation_id: Mapped[int] = mapped_column(ForeignKey("reservations.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str] = mapped_column(String(12))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    reservation: Mapped[Reservation] = relationship(back_populates="transitions")
