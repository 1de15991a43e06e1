"""The one way events leave the system: numbered in the transaction, delivered after its commit.

`lot_event` / `reservation_event` are called by domain services inside their transaction. Each
event takes the next gap-free `seq` from `feed_counter` and is stored in `feed_events` with its
payload, so that a reconnecting client can be replayed exactly what it missed. Only when the
transaction commits are the events handed to the delivery function installed on the app (the
Socket.IO emitter, see feed/delivery.py); a rollback drops them together with their numbers.
"""
from __future__ import annotations

from typing import Callable, Iterable

from flask import current_app, has_app_context
from sqlalchemy import event, update
from sqlalchemy.orm import Session

from exchange.extensions import db
from exchange.models import FeedCounter, FeedEvent, Lot, Reservation

_PENDING = "carreau_pending_events"
DELIVERY_KEY = "carreau_feed_delivery"

Delivery = Callable[[list[dict]], None]


def _next_seq() -> int:
    return db.session.execute(
        update(FeedCounter).where(FeedCounter.id == 1).values(last_seq=FeedCounter.last_seq + 1)
        .returning(FeedCounter.last_seq)
    ).scalar_one()


def _record(kind: str, type_: str, payload: dict, *, lot_id: int | None = None,
            reservation_id: int | None = None, recipient_ids: Iterable[int] = ()) -> FeedEvent:
    event_ = FeedEvent(seq=_next_seq(), kind=kind, type=type_, lot_id=lot_id, reservation_id=reservation_id,
                       recipient_ids=sorted(set(recipient_ids)), payload=payload)
    db.session.add(event_)
    # A plain copy: after commit the ORM object is expired and may not be loaded again.
    db.session.info.setdefault(_PENDING, []).append(event_as_dict(event_))
    return event_


def event_as_dict(event_: FeedEvent) -> dict:
    return {"seq": event_.seq, "kind": event_.kind, "type": event_.type, "lot_id": event_.lot_id,
            "reservation_id": event_.reservation_id, "recipient_ids": list(event_.recipient_ids),
            "payload": event_.payload}


def lot_event(lot: Lot, type_: str) -> FeedEvent:
    """Record that a lot was published, updated, reserved, sold out, withdrawn or expired."""
    from exchange.api.schemas import LotOut

    db.session.flush()
    return _record("lot", type_, {"lot": LotOut().dump(lot)}, lot_id=lot.id)


def reservation_event(reservation: Reservation, type_: str) -> FeedEvent:
    """Record a reservation's change for the producer of its farm and for its trader."""
    from exchange.api.schemas import ReservationOut

    db.session.flush()
    payload = {"reservation": ReservationOut(exclude=("pickup_code",)).dump(reservation)}
    recipients = (reservation.lot.farm.owner_id, reservation.trader_id)
    return _record("reservation", type_, payload, lot_id=reservation.lot_id, reservation_id=reservation.id,
                   recipient_ids=recipients)


@event.listens_for(Session, "after_commit")
def _deliver_after_commit(session: Session) -> None:
    events = session.info.pop(_PENDING, None)
    if not events or not has_app_context():
        return
    deliver: Delivery | None = current_app.extensions.get(DELIVERY_KEY)
    if deliver is not None:
        deliver(events)


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
