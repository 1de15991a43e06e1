"""Lots: posting, stock edits, withdrawal, and the lots-near query."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update
from sqlalchemy.orm import joinedload, selectinload

from exchange.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from exchange.domain.farms import get_own_farm
from exchange.extensions import db
from exchange.feed import publish
from exchange.geo.distance import bounding_box, distances_km
from exchange.models import Lot, LotStatus, StockMovement, User
from exchange.models.lots import OPEN_STATUSES
from exchange.models.types import utcnow
from exchange.reports import rollup

DEFAULT_RADIUS_KM = 30.0


def get_lot(lot_id: int) -> Lot:
    lot = db.session.get(Lot, lot_id)
    if lot is None:
        raise NotFound(_l("Lot introuvable."))
    return lot


def get_own_lot(user: User, lot_id: int) -> Lot:
    """A lot its producer may change; another producer's lot is refused."""
    lot = get_lot(lot_id)
    if lot.farm.owner_id != user.id and not user.has_role("admin"):
        raise Forbidden(_l("Ce lot n'est pas le vôtre."))
    return lot


def lock_lot(lot_id: int) -> Lot:
    """Take the lot's write lock first, then read it: read-then-write is safe on SQLite and PostgreSQL.

    The no-op UPDATE takes SQLite's write lock (or PostgreSQL's row lock) before anything is read,
    so no concurrent reservation can slip between our read and our write.
    """
    db.session.execute(update(Lot).where(Lot.id == lot_id).values(id=Lot.id))
    return db.session.get(Lot, lot_id, populate_existing=True)


def _status_for_stock(lot: Lot) -> str:
    if lot.status in OPEN_STATUSES:
        return LotStatus.sold_out.value if lot.quantity_available == 0 else LotStatus.published.value
    return lot.status


def post_lot(producer: User, *, farm_id: int, quantity: Decimal, labels=None, **data) -> Lot:
    """Put a lot on offer from one's own farm; traders watching around it hear of it at once."""
    farm = get_own_farm(producer, farm_id)
    now = utcnow()
    lot = Lot(farm_id=farm.id, quantity_offered=quantity, quantity_available=quantity, lat=farm.lat, lon=farm.lon,
              available_from=data.pop("available_from", None) or now, status=LotStatus.published.value,
              created_at=now, **data)
    lot.labels = labels or []
    db.session.add(lot)
    db.session.flush()
    db.session.add(StockMovement(lot_id=lot.id, user_id=producer.id, delta_offered=quantity,
                                 delta_available=quantity, reason="posted"))
    rollup.posted(lot.id, quantity)
    publish.lot_event(lot, "published")
    db.session.commit()
    return lot


def update_lot(producer: User, lot_id: int, changes: dict, *, request_key: str | None = None) -> Lot:
    """Change a lot; setting the available quantity changes the offered quantity by as much."""
    get_own_lot(producer, lot_id)
    lot = lock_lot(lot_id)
    if not lot.is_open:
        raise Conflict(_l("Ce lot est clos (%(status)s) et ne peut plus être modifié.", status=lot.status),
                       code="lot_closed")
    if "quantity_available" in changes:
        target = changes.pop("quantity_available")
        delta = target - lot.quantity_available
        if delta:
            lot.quantity_available = target
            lot.quantity_offered = lot.quantity_offered + delta
            db.session.add(StockMovement(lot_id=lot.id, user_id=producer.id, delta_offered=delta,
                                         delta_available=delta, reason="adjusted", request_key=request_key))
            rollup.offered(lot.id, delta)
    if changes.get("min_order") is not None and changes["min_order"] > lot.quantity_offered:
        raise InvalidInput(_l("La commande minimale dépasse la quantité proposée."),
                           errors={"min_order": ["Cannot exceed the quantity offered."]})
    if "labels" in changes:
        lot.labels = changes.pop("labels")
    for field, value in changes.items():
        setattr(lot, field, value)
    if {"product", "category"} & changes.keys():
        rollup.relabel(lot_id=lot.id)
    start, end = lot.available_from, lot.available_until
    if start >= end:
        raise InvalidInput(_l("Le début de la disponibilité doit précéder sa fin."),
                           errors={"available_from": ["Must be before available_until."]})
    before = lot.status
    lot.status = _status_for_stock(lot)
    lot.updated_at = utcnow()
    event = {("published", "sold_out"): "sold_out", ("sold_out", "published"): "published"}.get(
        (before, lot.status), "updated")
    publish.lot_event(lot, event)
    db.session.commit()
    return lot


def step_stock(producer: User, lot_id: int, *, delta: Decimal | None = None,
               quantity_available: Decimal | None = None, request_key: str | None = None) -> Lot:
    """Add to or take from what is left in one tap (never below zero); a step retried with its key counts once.

    A step is relative to the stock as it is when it arrives, so a reservation taken meanwhile is not undone.
    """
    get_own_lot(producer, lot_id)
    lot = lock_lot(lot_id)
    if request_key and db.session.scalar(select(StockMovement.id).where(
            StockMovement.lot_id == lot_id, StockMovement.request_key == request_key)) is not None:
        db.session.commit()  # already applied: answer the lot as it is, release the lock
        return lot
    target = quantity_available if quantity_available is not None else max(Decimal(0), lot.quantity_available + delta)
    return update_lot(producer, lot_id, {"quantity_available": target}, request_key=request_key)


def withdraw_lot(producer: User, lot_id: int) -> Lot:
    """Take a lot off the exchange; it stays readable as withdrawn, its reservations are handled by their rules."""
    get_own_lot(producer, lot_id)
    lot = lock_lot(lot_id)
    if lot.status == LotStatus.withdrawn.value:
        return lot
    from exchange.domain.reservations import release_pending_holds

    now = utcnow()
    lot.status = LotStatus.withdrawn.value
    lot.updated_at = now
    # Pending holds are declined at once (the producer no longer offers the lot); confirmed ones stand.
    release_pending_holds(lot, "decline", producer.id, now)
    publish.lot_event(lot, "withdrawn")
    db.session.commit()
    return lot


@dataclass
class LotsPage:
    items: list[Lot]
    total: int


def _filtered(query, *, category=None, q=None, max_price_cents=None, label=None, farm_id=None, status=None,
              now: dt.datetime):
    statuses = status or [LotStatus.published.value]
    query = query.where(Lot.status.in_(statuses))
    if set(statuses) & set(OPEN_STATUSES):
        # An open lot past its end is no longer on offer, even before the closing job marks it expired.
        query = query.where(or_(Lot.status.not_in(OPEN_STATUSES), Lot.available_until > now))
    if category:
        query = query.where(Lot.category.in_(category))
    if q:
        for word in q.split():
            query = query.where(Lot.product.ilike(f"%{word}%"))
    if max_price_cents is not None:
        query = query.where(Lot.price_cents <= max_price_cents)
    for one in label or ():
        query = query.where(Lot.labels_text.like(f"%,{one},%"))
    if farm_id is not None:
        query = query.where(Lot.farm_id == farm_id)
    return query


_ORDER = {"price": (Lot.price_cents, Lot.id), "ending": (Lot.available_until, Lot.id),
          "recent": (Lot.created_at.desc(), Lot.id.desc())}


def lots_near(*, page: int, page_size: int, lat: float | None = None, lon: float | None = None,
              radius_km: float | None = None, sort: str | None = None, **filters) -> LotsPage:
    """Lots on offer, filtered; around a point, the box is cut in SQL and the circle checked exactly."""
    now = utcnow()
    if lat is None:
        query = _filtered(select(Lot), now=now, **filters)
        total = db.session.scalar(select(db.func.count()).select_from(query.subquery()))
        items = db.session.scalars(query.options(selectinload(Lot.farm)).order_by(*_ORDER[sort or "recent"])
                                   .limit(page_size).offset((page - 1) * page_size)).all()
        return LotsPage(list(items), total)

    radius_km = radius_km or DEFAULT_RADIUS_KM
    min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, radius_km)
    # Only what the circle and the order need: a box of a few thousand rows is read as plain tuples
    # and checked in one vectorised pass, then only the page's lots are loaded as objects.
    order = _NEAR_ORDER[sort or "distance"]
    columns = select(Lot.id, Lot.lat, Lot.lon, *order)
    boxed = _filtered(columns, now=now, **filters).where(Lot.lat.between(min_lat, max_lat),
                                                         Lot.lon.between(min_lon, max_lon))
    rows = db.session.execute(boxed).all()
    if not rows:
        return LotsPage([], 0)
    positions = np.array([(row[1], row[2]) for row in rows], dtype=np.float64)
    distances = distances_km(lat, lon, positions[:, 0], positions[:, 1])
    inside = np.flatnonzero(distances <= radius_km)
    if sort in (None, "distance"):
        ids = np.array([row[0] for row in rows], dtype=np.int64)[inside]
        ranked = inside[np.lexsort((ids, distances[inside]))]  # nearest first, then by id
    else:
        ranked = sorted(inside.tolist(), key=lambda i: _near_key(sort, rows[i]))
    window = [int(i) for i in ranked[(page - 1) * page_size: page * page_size]]
    loaded = {lot.id: lot for lot in db.session.scalars(
        select(Lot).where(Lot.id.in_([rows[i][0] for i in window])).options(joinedload(Lot.farm)))}
    items = []
    for i in window:
        lot = loaded[rows[i][0]]
        lot.distance_km = round(float(distances[i]), 2)
        items.append(lot)
    return LotsPage(items, len(inside))


# Columns read, beyond id and position, to order lots near a point; the id breaks ties.
_NEAR_ORDER = {"distance": (), "price": (Lot.price_cents,), "ending": (Lot.available_until,),
               "recent": (Lot.created_at,)}


def _near_key(sort: str, row) -> tuple:
    if sort == "recent":
        return -row[3].timestamp(), -row[0]
    return row[3], row[0]
