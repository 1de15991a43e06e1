"""Read-only queries shaped for the pages (what a producer's phone shows first)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, select
from sqlalchemy.orm import selectinload

from exchange.domain import reservations
from exchange.extensions import db
from exchange.models import Farm, FeedCounter, Lot, Reservation, User
from exchange.models.lots import OPEN_STATUSES
from exchange.models.reservations import FINAL_STATUSES
from exchange.models.types import utcnow

RECENT_CLOSED_DAYS = 7


def producer_lots(producer: User, *, closed_days: int = RECENT_CLOSED_DAYS) -> list[Lot]:
    """Open lots first (ending soonest first), then the ones closed in the last days, newest first."""
    since = utcnow() - dt.timedelta(days=closed_days)
    is_open = Lot.status.in_(OPEN_STATUSES) & (Lot.available_until > utcnow())
    query = (select(Lot).join(Farm).where(Farm.owner_id == producer.id)
             .where(is_open | (Lot.created_at >= since))
             .options(selectinload(Lot.farm))
             .order_by(case((is_open, 0), else_=1), case((is_open, Lot.available_until)), Lot.created_at.desc()))
    return list(db.session.scalars(query))


def product_memory(producer: User, limit: int = 200) -> dict[str, dict]:
    """What the producer last posted for each product they sell: the new-lot form fills it in.

    Keyed by the product's name in lower case; the most recent lot of that name wins.
    """
    rows = db.session.scalars(select(Lot).join(Farm).where(Farm.owner_id == producer.id)
                              .order_by(Lot.created_at.desc()).limit(limit))
    memory: dict[str, dict] = {}
    for lot in rows:
        key = lot.product.strip().lower()
        if key not in memory:
            memory[key] = {"lot_id": lot.id, "product": lot.product, "category": lot.category, "unit": lot.unit,
                           "price_cents": lot.price_cents, "quantity": float(lot.quantity_offered),
                           "labels": lot.labels, "min_order": float(lot.min_order) if lot.min_order else None,
                           "farm_id": lot.farm_id, "posted_at": lot.created_at.isoformat()}
    return memory


def recent_lots_to_repeat(producer: User, days: int = 3, limit: int = 6) -> list[Lot]:
    """Distinct products posted in the last days, newest first: « repeat yesterday's lot » in one tap."""
    since = utcnow() - dt.timedelta(days=days)
    rows = db.session.scalars(select(Lot).join(Farm).where(Farm.owner_id == producer.id, Lot.created_at >= since)
                              .order_by(Lot.created_at.desc()).limit(100))
    seen, lots = set(), []
    for lot in rows:
        key = lot.product.strip().lower()
        if key not in seen:
            seen.add(key)
            lots.append(lot)
    return lots[:limit]


@dataclass
class Inbox:
    """Reservations grouped the way a producer (or a trader) acts on them."""

    pending: list[Reservation]
    confirmed: list[Reservation]
    closed: list[Reservation]

    @property
    def ids(self) -> list[int]:
        return [r.id for r in self.pending + self.confirmed + self.closed]


def reservations_inbox(user: User, *, closed_days: int = RECENT_CLOSED_DAYS, limit: int = 200) -> Inbox:
    """Pending holds (soonest to expire first), confirmed ones (soonest pickup first), then the week's closed ones."""
    def listed(statuses):
        return reservations.list_reservations(user, page=1, page_size=limit, status=statuses).items

    far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    pending = sorted(listed(["pending"]), key=lambda r: (r.hold_expires_at or far, r.id))
    confirmed = sorted(listed(["confirmed"]), key=lambda r: (r.pickup_at or far, r.id))
    since = utcnow() - dt.timedelta(days=closed_days)
    closed = [r for r in listed(list(FINAL_STATUSES)) if (r.closed_at or r.updated_at) >= since]
    return Inbox(pending, confirmed, closed)


def feed_position() -> int:
    """The feed's last `seq`: read before a page's data, it is where the page's live updates resume from."""
    return db.session.scalar(select(FeedCounter.last_seq).where(FeedCounter.id == 1)) or 0
