"""The one way events leave the system: numbered in the transaction, delivered after its commit.

`lot_event` / `reservation_event` are called by domain services inside their transaction; each
builds its payload at once (the lot or reservation as it stands then) and queues it on the session.
Just before the transaction commits, its queued events take their gap-free `seq` numbers from
`feed_counter` in one UPDATE (`last_seq + n`) and are stored in `feed_events`, so that a
reconnecting client can be replayed exactly what it missed. The counter is thus the last row a
transaction locks, held only for its commit: on PostgreSQL that statement and the `COMMIT` leave in
one round trip (`_number_store_and_commit`). Only when the transaction commits are the events
handed to the delivery function installed on the app (the Socket.IO emitter, see feed/delivery.py);
a rollback drops them together with their numbers.

The payloads are the API's `LotOut` and `ReservationOut` (without the pickup code), built by plain
functions: marshmallow took about a third of a reservation's CPU. tests/feed/test_payloads.py checks
that they equal the schemas' dumps, so the contract cannot drift.
"""
from __future__ import annotations

import datetime as dt
from typing import Callable, Iterable

from flask import current_app, has_app_context
from sqlalchemy import BigInteger, bindparam, event, insert, literal, select, true, union_all, update
from sqlalchemy.orm import Session

from exchange.extensions import db
from exchange.models import FeedCounter, FeedEvent, Farm, Lot, Reservation, WatchVersion
from exchange.models.types import utcnow

_QUEUED = "carreau_queued_events"  # recorded in this transaction, not numbered yet
_PENDING = "carreau_pending_events"  # numbered and stored, delivered after the commit
DELIVERY_KEY = "carreau_feed_delivery"

Delivery = Callable[[list[dict]], None]


# --- payloads: the API's LotOut / ReservationOut, without marshmallow ----------------------------

def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _quantity(value) -> float | None:
    return None if value is None else float(value)


def _text(value) -> str | None:
    return None if value is None else str(value)


def _farm_brief(farm: Farm | None) -> dict | None:
    if farm is None:
        return None
    return {"id": farm.id, "name": _text(farm.name), "commune": _text(farm.commune), "postcode": _text(farm.postcode),
            "department": _text(farm.department), "lat": farm.lat, "lon": farm.lon,
            "pickup_hours": None if farm.pickup_hours is None else {
                str(day): [str(slot) for slot in slots] for day, slots in farm.pickup_hours.items()},
            "pickup_instructions": _text(farm.pickup_instructions)}


def lot_payload(lot: Lot) -> dict:
    """`LotOut().dump(lot)`, the same dict."""
    return {"id": lot.id, "farm_id": lot.farm_id, "farm": _farm_brief(lot.farm), "product": _text(lot.product),
            "category": _text(lot.category), "unit": _text(lot.unit), "quantity": _quantity(lot.quantity_offered),
            "quantity_available": _quantity(lot.quantity_available), "price_cents": lot.price_cents,
            "min_order": _quantity(lot.min_order), "available_from": _iso(lot.available_from),
            "available_until": _iso(lot.available_until), "labels": [str(label) for label in lot.labels],
            "description": _text(lot.description), "status": _text(lot.status), "lat": lot.lat, "lon": lot.lon,
            "created_at": _iso(lot.created_at), "updated_at": _iso(lot.updated_at)}


def reservation_payload(reservation: Reservation) -> dict:
    """`ReservationOut(exclude=("pickup_code",)).dump(reservation)`, the same dict."""
    lot, trader = reservation.lot, reservation.trader
    return {"id": reservation.id, "lot_id": reservation.lot_id, "trader_id": reservation.trader_id,
            "quantity": _quantity(reservation.quantity), "price_cents": reservation.price_cents,
            "status": _text(reservation.status), "pickup_at": _iso(reservation.pickup_at),
            "hold_expires_at": _iso(reservation.hold_expires_at), "distance_km": reservation.distance_km,
            "created_at": _iso(reservation.created_at), "updated_at": _iso(reservation.updated_at),
            "closed_at": _iso(reservation.closed_at),
            "lot": None if lot is None else {
                "id": lot.id, "product": _text(lot.product), "category": _text(lot.category),
                "unit": _text(lot.unit), "status": _text(lot.status), "available_until": _iso(lot.available_until),
                "farm": _farm_brief(lot.farm)},
            "trader": None if trader is None else {"id": trader.id, "name": _text(trader.name)}}


# --- recording -----------------------------------------------------------------------------------

def _queue(kind: str, type_: str, payload: dict, *, lot_id: int | None = None, reservation_id: int | None = None,
           recipient_ids: Iterable[int] = ()) -> None:
    db.session.info.setdefault(_QUEUED, []).append(
        {"seq": None, "kind": kind, "type": type_, "lot_id": lot_id, "reservation_id": reservation_id,
         "recipient_ids": sorted(set(recipient_ids)), "payload": payload})


def lot_event(lot: Lot, type_: str) -> None:
    """Record that a lot was published, updated, reserved, sold out, withdrawn or expired."""
    db.session.flush()  # ids, and column defaults applied on write, belong in the payload
    _queue("lot", type_, {"lot": lot_payload(lot)}, lot_id=lot.id)


def reservation_event(reservation: Reservation, type_: str) -> None:
    """Record a reservation's change for the producer of its farm and for its trader."""
    db.session.flush()
    recipients = (reservation.lot.farm.owner_id, reservation.trader_id)
    _queue("reservation", type_, {"reservation": reservation_payload(reservation)}, lot_id=reservation.lot_id,
           reservation_id=reservation.id, recipient_ids=recipients)


_counter, _log, _watch_version = FeedCounter.__table__, FeedEvent.__table__, WatchVersion.__table__
# Built once (SQLAlchemy then reuses their compiled form): they run in every transaction that records events.
# The watch version comes along with the numbers, so delivery knows whether its watch index is current without
# a query of its own. It is read FOR SHARE: a watch change committing meanwhile either is seen here or waits
# for this commit, so an event still reaches every watch committed before it (on SQLite writers are serial).
_TAKE_SEQS = (update(_counter).where(_counter.c.id == 1)
              .values(last_seq=_counter.c.last_seq + bindparam("count", type_=BigInteger))
              .returning(_counter.c.last_seq,
                         select(_watch_version.c.version).where(_watch_version.c.id == 1)
                         .with_for_update(read=True).scalar_subquery()))
_STORE = insert(_log)
_ROW_COLUMNS = ("kind", "type", "lot_id", "reservation_id", "recipient_ids", "payload", "created_at")
_NUMBER_AND_STORE: dict[tuple[str, int], object] = {}


def _number_and_store_statement(dialect: str, count: int):
    """The statement storing `count` events (parameters `<column>_<i>`), built once per database and count so that
    its compiled form is reused (a multi-row VALUES is compiled again on every execution). On PostgreSQL it also
    takes the numbers: the counter's update is a CTE whose new value numbers the rows (one round trip instead of
    two), and it answers (last_seq, watch_version) as _TAKE_SEQS does; elsewhere it takes `first_seq`."""
    key = (dialect, count)
    if key not in _NUMBER_AND_STORE:
        rows = [select(literal(i).label("position"),
                       *[bindparam(f"{name}_{i}", type_=_log.c[name].type).label(name) for name in _ROW_COLUMNS])
                for i in range(count)]
        rows = (union_all(*rows) if count > 1 else rows[0]).subquery("event_rows")
        if dialect == "postgresql":
            numbers = _TAKE_SEQS.cte("numbers")
            first = numbers.c.last_seq - bindparam("count", type_=BigInteger) + 1
            stored = insert(_log).from_select(
                ["seq", *_ROW_COLUMNS],
                select(first + rows.c.position, *[rows.c[name] for name in _ROW_COLUMNS]).select_from(numbers)
                .join(rows, true()))
            _NUMBER_AND_STORE[key] = select(numbers).add_cte(stored.cte("stored"))
        else:
            _NUMBER_AND_STORE[key] = insert(_log).from_select(
                ["seq", *_ROW_COLUMNS],
                select(bindparam("first_seq", type_=BigInteger) + rows.c.position,
                       *[rows.c[name] for name in _ROW_COLUMNS]))
    return _NUMBER_AND_STORE[key]


@event.listens_for(Session, "before_commit")
def _number_and_store(session: Session) -> None:
    """Number the transaction's events in one counter update, and add them to the log."""
    events = session.info.pop(_QUEUED, None)
    if not events:
        return
    connection = session.connection()
    now, count = utcnow(), len(events)
    if count > 8:  # a job closing a lot with its holds: many events, rarely
        last, watch_version = connection.execute(_TAKE_SEQS, {"count": count}).one()
        _numbered(events, last, watch_version)
        connection.execute(_STORE, [_row(e) | {"seq": e["seq"], "created_at": now} for e in events])
    else:  # a reservation's or a stock change's events
        rows = {f"{name}_{i}": value for i, e in enumerate(events) for name, value in
                (_row(e) | {"created_at": now}).items()}
        dialect = connection.dialect.name
        statement = _number_and_store_statement(dialect, count)
        if dialect == "postgresql" and not session.in_nested_transaction():
            last, watch_version = _number_store_and_commit(session, connection, statement, rows | {"count": count})
            _numbered(events, last, watch_version)
        elif dialect == "postgresql":
            last, watch_version = connection.execute(statement, rows | {"count": count}).one()
            _numbered(events, last, watch_version)
        else:
            last, watch_version = connection.execute(_TAKE_SEQS, {"count": count}).one()
            _numbered(events, last, watch_version)
            connection.execute(statement, rows | {"first_seq": last - count + 1})
    session.info.setdefault(_PENDING, []).extend(events)


_COMPILED: dict[tuple, tuple] = {}


def _number_store_and_commit(session: Session, connection, statement, params: dict) -> tuple[int, int]:
    """PostgreSQL: the numbering statement and the transaction's `COMMIT` sent together (psycopg's pipeline mode),
    one round trip, so that the feed's counter, locked by the statement, is held only while PostgreSQL commits:
    never while this process, between the answer and the `COMMIT`, serves other requests. Every transaction that
    records events waits for the counter; holding it across a round trip and a turn of the server's event loop
    made it the queue that bounded reservations (measured: 13 backends waiting on it on average, docs/reservations.md).
    Whatever the session has not written yet is flushed first; SQLAlchemy's own commit then finds the transaction
    over (psycopg does nothing) and runs its hooks (delivery)."""
    session.flush()
    dialect = connection.dialect
    key = (id(statement), dialect.name)
    if key not in _COMPILED:
        compiled = statement.compile(dialect=dialect)
        _COMPILED[key] = (statement, compiled, {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect) for name, bind in compiled.binds.items()})
    _, compiled, binds = _COMPILED[key]
    values = {name: binds[name](value) if binds.get(name) else value
              for name, value in compiled.construct_params(params).items()}
    driver = connection.connection.driver_connection
    with driver.pipeline(), driver.cursor() as cursor:
        cursor.execute(compiled.string, values)
        driver.commit()
        return cursor.fetchone()


def _row(event_: dict) -> dict:
    return {"kind": event_["kind"], "type": event_["type"], "lot_id": event_["lot_id"],
            "reservation_id": event_["reservation_id"], "recipient_ids": event_["recipient_ids"],
            "payload": event_["payload"]}


def _numbered(events: list[dict], last: int, watch_version: int) -> None:
    for seq, event_ in enumerate(events, start=last - len(events) + 1):
        event_["seq"] = seq
        event_["watch_version"] = watch_version


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
    session.info.pop(_QUEUED, None)
    session.info.pop(_PENDING, None)
