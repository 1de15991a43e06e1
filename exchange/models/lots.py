"""Lots on offer and every change to their stock."""
from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from exchange.extensions import db
from exchange.models.accounts import User
from exchange.models.farms import Farm
from exchange.models.types import Quantity, UTCDateTime, utcnow

CATEGORIES = ("vegetables", "fruits", "dairy", "meat", "eggs", "honey", "grains", "drinks", "plants", "other")
UNITS = ("kg", "piece", "bunch", "litre", "crate")
LABELS = ("organic", "conversion", "aop", "aoc", "igp", "label_rouge", "hve", "nature_progres", "demeter",
          "bienvenue_ferme", "fermier")


class LotStatus(str, enum.Enum):
    published = "published"
    sold_out = "sold_out"
    withdrawn = "withdrawn"
    expired = "expired"


OPEN_STATUSES = (LotStatus.published.value, LotStatus.sold_out.value)


class Lot(db.Model):
    __tablename__ = "lots"
    __table_args__ = (
        CheckConstraint("quantity_available >= 0", name="ck_lots_available_not_negative"),
        CheckConstraint("quantity_offered >= 0", name="ck_lots_offered_not_negative"),
        CheckConstraint("price_cents >= 0", name="ck_lots_price_not_negative"),
        # The feed and lots-near queries filter open lots by position first; with the end of
        # availability and the id in it, a box is answered from the index alone.
        Index("ix_lots_open_position", "status", "lat", "lon", "available_until", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    farm_id: Mapped[int] = mapped_column(ForeignKey("farms.id", ondelete="CASCADE"), index=True)
    product: Mapped[str] = mapped_column(String(120))
    category: Mapped[str] = mapped_column(String(16), index=True)
    unit: Mapped[str] = mapped_column(String(8))
    quantity_offered: Mapped[Decimal] = mapped_column(Quantity)
    quantity_available: Mapped[Decimal] = mapped_column(Quantity)
    price_cents: Mapped[int] = mapped_column(Integer)
    min_order: Mapped[Decimal | None] = mapped_column(Quantity)
    available_from: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    available_until: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    # ",organic,aop," so that a label filter is a portable LIKE '%,organic,%'.
    labels_text: Mapped[str] = mapped_column("labels", String(255), default="")
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default=LotStatus.published.value, index=True)
    # Copied from the farm when posted: the hot queries (near, feed, reports) need no join.
    lat: Mapped[float] = mapped_column()
    lon: Mapped[float] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    farm: Mapped[Farm] = relationship()

    @property
    def labels(self) -> list[str]:
        return [label for label in self.labels_text.split(",") if label]

    @labels.setter
    def labels(self, values) -> None:
        cleaned = sorted({v.strip() for v in values or () if v and v.strip()})
        self.labels_text = ("," + ",".join(cleaned) + ",") if cleaned else ""

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def __repr__(self) -> str:
        return f"<Lot {self.id} {self.product!r} {self.quantity_available}/{self.quantity_offered} {self.status}>"


class StockMovement(db.Model):
    """One change of a lot's stock: posting, a producer's edit, a hold taken or given back."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        # A stock step retried by a phone on a flaky network carries the same key and is applied once.
        UniqueConstraint("lot_id", "request_key", name="uq_stock_movements_request_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reservation_id: Mapped[int | None] = mapped_column(ForeignKey("reservations.id", ondelete="SET NULL"))
    delta_offered: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    delta_available: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    reason: Mapped[str] = mapped_column(String(24))
    request_key: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User | None] = relationship()
