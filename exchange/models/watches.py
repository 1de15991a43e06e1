"""Traders' standing searches: the circles and filters the live feed matches lots against."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import DDL, BigInteger, Float, ForeignKey, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from exchange.extensions import db
from exchange.models.accounts import User
from exchange.models.types import Quantity, UTCDateTime, utcnow


class Watch(db.Model):
    __tablename__ = "watches"

    id: Mapped[int] = mapped_column(primary_key=True)
    trader_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(80))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    radius_km: Mapped[float] = mapped_column(Float)
    categories_text: Mapped[str] = mapped_column("categories", String(160), default="")
    q: Mapped[str | None] = mapped_column(String(80))
    max_price_cents: Mapped[int | None] = mapped_column(Integer)
    labels_text: Mapped[str] = mapped_column("labels", String(255), default="")
    min_quantity: Mapped[Decimal | None] = mapped_column(Quantity)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    trader: Mapped[User] = relationship()

    @property
    def categories(self) -> list[str]:
        return [c for c in self.categories_text.split(",") if c]

    @categories.setter
    def categories(self, values) -> None:
        self.categories_text = ",".join(sorted(set(values or ())))

    @property
    def labels(self) -> list[str]:
        return [c for c in self.labels_text.split(",") if c]

    @labels.setter
    def labels(self, values) -> None:
        self.labels_text = ",".join(sorted(set(values or ())))


class WatchVersion(db.Model):
    """A single row: the number of the last watch change, taken in the changing transaction.

    Like the feed's counter, bumping it locks the row until commit, so versions follow commit order:
    a process that has applied every change up to version N and reads N + k knows exactly which
    changes it lacks (see feed/matching.py, which keeps each process's index in step this way).
    """

    __tablename__ = "watch_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class WatchChange(db.Model):
    """Which watch a given version changed (created, edited or deleted): the index's catch-up log."""

    __tablename__ = "watch_changes"

    version: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    watch_id: Mapped[int] = mapped_column(Integer)  # no foreign key: deletions are logged too
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


event.listen(WatchVersion.__table__, "after_create", DDL("INSERT INTO watch_version (id, version) VALUES (1, 0)"))
