"""The feed's event log: every lot and reservation event, numbered without gaps."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import DDL, JSON, BigInteger, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from exchange.extensions import db
from exchange.models.types import UTCDateTime, utcnow


class FeedCounter(db.Model):
    """A single row holding the last `seq` handed out.

    Taking the next number is an UPDATE of this row inside the transaction that makes the change, so
    numbers are gap-free (a rolled-back transaction gives its number back) and follow commit order
    (the row lock is held until commit). A database sequence would leave gaps on rollback.
    """

    __tablename__ = "feed_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class FeedEvent(db.Model):
    __tablename__ = "feed_events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(12))  # "lot" or "reservation"
    type: Mapped[str] = mapped_column(String(16))
    lot_id: Mapped[int | None] = mapped_column(Integer, index=True)
    reservation_id: Mapped[int | None] = mapped_column(Integer)
    # Users who must receive a reservation event (producer and trader); lot events are matched to watches.
    recipient_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


# The counter's single row exists from the moment the table does (create_all in tests; migrations insert it too).
event.listen(FeedCounter.__table__, "after_create", DDL("INSERT INTO feed_counter (id, last_seq) VALUES (1, 0)"))
