"""The one way events leave the system: numbered in the transaction, delivered after its commit.

`lot_event` / `reservation_event` are called by domain services inside their transaction; each
builds its payload at once (the lot or reservation as it stands then) and queues it on the session.
Just before the transaction commits, its queued events take their gap-free `seq` numbers from
`feed_counter` in one UPDATE (`last_seq + n`) and are stored in `feed_events`, so that a
reconnecting client can be replayed exactly what it missed. The counter is thus the last row a
transaction locks, held only for its commit: on PostgreSQL that statement and the `COMMIT` leave in
one round trip (`commit_pipelined`). A reservation goes further: it builds its events before it takes the
stock, and sends the take, their numbering (completed in SQL from the take) and the `COMMIT` together
(`numbered_insert`, `deliver_after_commit`; exchange/domain/reservations.py). Only when the transaction commits are the events
handed to the delivery function installed on the app (the Socket.IO emitter, see feed/delivery.py);
a rollback drops them together with their numbers.

The payloads are the API's `LotOut` and `ReservationOut` (without the pickup code), built by plain
functions: marshmallow took about a third of a reservation's CPU. tests/feed/test_payloads.py checks
that they equal the schemas' dumps, so the contract cannot drift.
"""
from __future__ import annotations

import datetime as dt
from contextlib import nullcontext
from typing import Callable, Iterable

import psycopg
from flask import current_app, has_app_context
from psycopg.pq import TransactionStatus
from sqlalchemy import BigInteger, bindparam, event, insert, literal, select, true, union_all, update
from sqlalchemy.orm import Session

from exchange.extensions import db
from exchange.models import FeedCounter, FeedEvent, Farm, Lot, Reservation, User, WatchVersion
from exchange.models.postgres import autocommit
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


def reservation_payload(reservation: Reservation, lot: Lot | None = None, trader: User | None = None) -> dict:
    """`ReservationOut(exclude=("pickup_code",)).dump(reservation)`, the same dict (`lot` and `trader` given for a
    reservation not in the session yet)."""
    lot, trader = lot or reservation.lot, trader or reservation.trader
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

def _event(kind: str, type_: str, payload: dict, *, lot_id: int | None = None, reservation_id: int | None = None,
           recipient_ids: Iterable[int] = ()) -> dict:
    return {"seq": None, "kind": kind, "type": type_, "lot_id": lot_id, "reservation_id": reservation_id,
            "recipient_ids": sorted(set(recipient_ids)), "payload": payload}


def lot_event(lot: Lot, type_: str) -> None:
    """Record that a lot was published, updated, reserved, sold out, withdrawn or expired."""
    db.session.flush()  # ids, and column defaults applied on write, belong in the payload
    db.session.info.setdefault(_QUEUED, []).append(new_lot_event(lot, type_))


def reservation_event(reservation: Reservation, type_: str) -> None:
    """Record a reservation's change for the producer of its farm and for its trader."""
    db.session.flush()
    db.session.info.setdefault(_QUEUED, []).append(new_reservation_event(reservation, type_))


def has_queued(session: Session) -> bool:
    """Whether the session's transaction has recorded events not numbered yet."""
    return bool(session.info.get(_QUEUED))


def new_lot_event(lot: Lot, type_: str) -> dict:
    """`lot_event`'s event, not recorded: for a caller that stores it itself (`numbered_insert`)."""
    return _event("lot", type_, {"lot": lot_payload(lot)}, lot_id=lot.id)


def new_reservation_event(reservation: Reservation, type_: str, lot: Lot | None = None,
                          trader: User | None = None) -> dict:
    """`reservation_event`'s event, not recorded: for a caller that stores it itself (`numbered_insert`), and that
    may give the lot and the trader of a reservation not in the session yet."""
    lot = lot or reservation.lot
    return _event("reservation", type_, {"reservation": reservation_payload(reservation, lot, trader)},
                  lot_id=reservation.lot_id, reservation_id=reservation.id,
                  recipient_ids=(lot.farm.owner_id, reservation.trader_id))


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


def event_rows(count: int, completed: dict[tuple[int, str], object] | None = None, source=None):
    """`count` events as a subquery of parameters `<column>_<i>` (and `position`): what `numbered_insert` stores.
    `completed` replaces the parameter of row i's column by a SQL expression, and `source` is then what those
    expressions read from: a row they take their values from, without which no event row is made."""
    completed = completed or {}
    rows = [select(literal(i).label("position"),
                   *[completed.get((i, name), bindparam(f"{name}_{i}", type_=_log.c[name].type)).label(name)
                     for name in _ROW_COLUMNS])
            for i in range(count)]
    if source is not None:
        rows = [row.select_from(source) for row in rows]
    return (union_all(*rows) if len(rows) > 1 else rows[0]).subquery("event_rows")


def numbered_insert(rows, *, only_if=None):
    """PostgreSQL: the counter's update (parameter `count`) as a CTE whose new value numbers `rows` (`event_rows`)
    as they are stored, one round trip instead of two; answers (last_seq, watch_version) as _TAKE_SEQS does.
    `only_if`, a SQL condition, leaves the counter alone (and answers no row) when it does not hold."""
    numbers = (_TAKE_SEQS if only_if is None else _TAKE_SEQS.where(only_if)).cte("numbers")
    first = numbers.c.last_seq - bindparam("count", type_=BigInteger) + 1
    stored = insert(_log).from_select(
        ["seq", *_ROW_COLUMNS],
        select(first + rows.c.position, *[rows.c[name] for name in _ROW_COLUMNS]).select_from(numbers)
        .join(rows, true()))
    return select(numbers).add_cte(stored.cte("stored"))


def event_parameters(events: list[dict], now: dt.datetime) -> dict:
    """The parameters of `event_rows` for these queued events."""
    return {f"{name}_{i}": value for i, e in enumerate(events) for name, value in (_row(e) | {"created_at": now}).items()}


def _number_and_store_statement(dialect: str, count: int):
    """The statement storing `count` events (parameters `<column>_<i>`), built once per database and count so that
    its compiled form is reused (a multi-row VALUES is compiled again on every execution). On PostgreSQL it also
    takes the numbers: the counter's update is a CTE whose new value numbers the rows (one round trip instead of
    two), and it answers (last_seq, watch_version) as _TAKE_SEQS does; elsewhere it takes `first_seq`."""
    key = (dialect, count)
    if key not in _NUMBER_AND_STORE:
        rows = event_rows(count)
        if dialect == "postgresql":
            _NUMBER_AND_STORE[key] = numbered_insert(rows)
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
        rows = event_parameters(events, now)
        dialect = connection.dialect.name
        statement = _number_and_store_statement(dialect, count)
        if dialect == "postgresql" and session.in_nested_transaction():  # a savepoint commits nothing around it
            last, watch_version = connection.execute(statement, rows | {"count": count}).one()
        elif dialect == "postgresql":
            # The numbers and the COMMIT in one round trip: the counter, which every transaction recording events
            # waits for, is held only while PostgreSQL commits; holding it across a round trip and a turn of the
            # server's event loop made it the queue that bounded reservations (13 backends waiting on it on
            # average, docs/reservations.md).
            last, watch_version = commit_pipelined(session, (statement, rows | {"count": count}))[0]
        else:
            last, watch_version = connection.execute(_TAKE_SEQS, {"count": count}).one()
            connection.execute(statement, rows | {"first_seq": last - count + 1})
        _numbered(events, last, watch_version)
    session.info.setdefault(_PENDING, []).extend(events)


_COMPILED: dict[tuple, tuple] = {}


def _compiled(statement, dialect):
    """The statement's SQL, bind processors and result processors, compiled once per statement and dialect."""
    key = (id(statement), dialect.name)
    if key not in _COMPILED:
        compiled = statement.compile(dialect=dialect)
        binds = {name: bind.type.dialect_impl(dialect).bind_processor(dialect) for name, bind in compiled.binds.items()}
        results = [column.type.dialect_impl(dialect).result_processor(dialect, None)
                   for column in statement.selected_columns]
        _COMPILED[key] = (statement, compiled, binds, results)  # the statement kept: its id stays its own
    return _COMPILED[key][1:]


def commit_pipelined(session: Session, *statements) -> list[tuple | None]:
    """PostgreSQL: the `statements` ((statement, parameters) pairs, each a SELECT or answering rows) and the
    transaction's `COMMIT`, sent together in psycopg's pipeline mode and ended by one Sync: one round trip, so that
    the rows they lock are held only while PostgreSQL runs them and commits, never while this process, between an
    answer and the next statement, serves other requests (under gevent, a worker may take several milliseconds to
    come back). Answers each statement's first row, converted as SQLAlchemy would (None when it has none).

    Whatever the session has not written yet is flushed first. When nothing of the transaction has reached
    PostgreSQL yet, its `BEGIN` goes in the pipeline too, as a statement: psycopg's own would be sent with a Sync
    and waited for, a round trip of its own, and so would its `commit()`, hence the `COMMIT` statement. When
    anything fails, PostgreSQL's side included, the transaction is rolled back before the error goes on: psycopg
    ends a pipeline with its Sync even on an exception raised here (a value it cannot send, a greenlet killed),
    which must not commit the statements already sent; and the `ROLLBACK` makes psycopg forget the statements it
    believes prepared, some of which the failure kept PostgreSQL from preparing. The session's own commit,
    afterwards, finds the transaction over (psycopg does nothing) and runs its hooks (delivery). An error in a
    statement (a unique key, say) is psycopg's own, raised here with nothing committed."""
    session.flush()
    connection = session.connection()
    dialect = connection.dialect
    sent = []
    for statement, params in statements:
        compiled, binds, results = _compiled(statement, dialect)
        values = {name: binds[name](value) if binds.get(name) else value
                  for name, value in compiled.construct_params(params).items()}
        sent.append((compiled.string, values, results))
    driver = connection.connection.driver_connection
    begin = driver.info.transaction_status == TransactionStatus.IDLE  # nothing of this transaction sent yet
    with autocommit(connection) if begin and not driver.autocommit else nullcontext():  # no BEGIN of psycopg's
        try:
            with driver.pipeline():
                if begin:
                    driver.execute("BEGIN")
                cursors = []
                for sql, values, _ in sent:
                    cursor = driver.cursor()
                    cursor.execute(sql, values)
                    cursors.append(cursor)
                driver.execute("COMMIT")
        except BaseException:
            _roll_back(driver)
            raise
    rows = [cursor.fetchone() for cursor in cursors]  # the pipeline's end fetched every result
    return [None if row is None else tuple(convert(value) if convert else value
                                           for convert, value in zip(results, row))
            for row, (_, _, results) in zip(rows, sent)]


def _roll_back(driver) -> None:
    """After a pipeline that failed: its transaction rolled back, unless the connection is gone (the pool then
    replaces it)."""
    try:
        driver.rollback()
    except psycopg.Error:
        pass


def deliver_after_commit(session: Session, events: list[dict], last: int, watch_version: int) -> None:
    """Events a caller numbered and stored itself (`numbered_insert` in its own statement), numbered here as the
    counter answered, and delivered once the session commits."""
    _numbered(events, last, watch_version)
    session.info.setdefault(_PENDING, []).extend(events)


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
