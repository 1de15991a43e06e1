"""Reservations: a trader holds part of a lot, the producer confirms, the trader collects it at the farm.

Stock never oversells: a hold takes its quantity in one conditional UPDATE of the lot (the database
checks and subtracts atomically), and every state that ends a hold gives the quantity back the same way.
State changes are compare-and-set on the status the caller saw, so two people acting at once cannot
both win. Existing rows are always locked lot first, then reservations, then the report rollup, then the
feed counter (events are numbered just before the commit): transactions that touch the same rows queue
instead of deadlocking on PostgreSQL. A new reservation's own rows are seen by nobody else until the commit.

What closes a hold without anybody acting:
- a pending hold not confirmed within HOLD_MINUTES (or by the end of the lot's window) expires;
- a confirmed reservation not collected by the end of its pickup slot plus NO_SHOW_GRACE_MINUTES is a no-show;
- a lot past `available_until` is closed (expired); its pending holds expire with it;
- a withdrawn lot's pending holds are declined at once (the producer no longer offers it).
Confirmed reservations survive their lot's closing or withdrawal: the producer promised them.
"""
from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass
from decimal import Decimal

import psycopg
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import (JSON, BigInteger, Float, Integer, Text, and_, bindparam, case, cast, exists, func, insert, literal,
                        null, or_, select, true, type_coerce, update)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, make_transient_to_detached, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from exchange.domain.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from exchange.domain.lots import lock_lot
from exchange.domain.pickup import PARIS, is_open, next_pickup, pickup_deadline
from exchange.extensions import db
from exchange.feed import publish
from exchange.geo.distance import distance_km
from exchange.models import Farm, Lot, LotStatus, Reservation, ReservationTransition, StockMovement, User
from exchange.models.postgres import without_begin
from exchange.models.reservations import FINAL_STATUSES, ReservationStatus
from exchange.models.types import QUANTITY_SCALE, Quantity, UTCDateTime, to_quantity, utcnow
from exchange.reports import rollup

# No 0/O, 1/I/L: a code read aloud or typed from a phone screen in the sun must not be misread.
PICKUP_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
PICKUP_CODE_LENGTH = 6
MAX_COLLECT_FAILURES = 5
COLLECT_LOCK_MINUTES = 15
IDEMPOTENCY_KEY_MAX_LENGTH = 80

PENDING, CONFIRMED = ReservationStatus.pending.value, ReservationStatus.confirmed.value


class TooManyAttempts(DomainError):
    """Too many wrong pickup codes: collection is locked for a while (429)."""

    status = 429
    code = "too_many_attempts"


@dataclass(frozen=True)
class Move:
    to: str
    sources: tuple[str, ...]
    ends_hold: bool  # gives the quantity back to the lot


MOVES = {
    "confirm": Move("confirmed", (PENDING,), False),
    "decline": Move("declined", (PENDING,), True),
    "cancel": Move("cancelled", (PENDING, CONFIRMED), True),
    "collect": Move("collected", (CONFIRMED,), False),
    "expire": Move("expired", (PENDING,), True),
    "no_show": Move("no_show", (CONFIRMED,), True),
}


def new_pickup_code() -> str:
    """A short random code the trader shows at the farm (31^6, about 900 million possibilities)."""
    return "".join(secrets.choice(PICKUP_CODE_ALPHABET) for _ in range(PICKUP_CODE_LENGTH))


def normalize_code(code: str) -> str:
    return "".join(code.split()).replace("-", "").upper()


# --- reading -------------------------------------------------------------------------------------

def _load(reservation_id: int) -> Reservation:
    reservation = db.session.get(Reservation, reservation_id, populate_existing=True)
    if reservation is None:
        raise NotFound(_l("Réservation introuvable."))
    return reservation


def _is_producer_of(user: User, reservation: Reservation) -> bool:
    return reservation.lot.farm.owner_id == user.id


def get_reservation(reservation_id: int, user: User) -> Reservation:
    """A reservation its trader, the producer of its farm or an admin may read; to others it does not exist."""
    reservation = _load(reservation_id)
    if reservation.trader_id == user.id or _is_producer_of(user, reservation) or user.has_role("admin"):
        return reservation
    raise NotFound(_l("Réservation introuvable."))


def _as_producer(reservation_id: int, producer: User) -> Reservation:
    reservation = get_reservation(reservation_id, producer)
    if not _is_producer_of(producer, reservation):
        raise Forbidden(_l("Seul le producteur de ce lot peut faire cela."))
    return reservation


def _as_trader(reservation_id: int, trader: User) -> Reservation:
    reservation = get_reservation(reservation_id, trader)
    if reservation.trader_id != trader.id:
        raise Forbidden(_l("Seul le commerçant qui a réservé peut faire cela."))
    return reservation


def pickup_code_for(reservation_id: int, trader: User) -> str:
    """The pickup code, for the trader who reserved and nobody else."""
    return _as_trader(reservation_id, trader).pickup_code


@dataclass
class ReservationsPage:
    items: list[Reservation]
    total: int


def list_reservations(user: User, *, page: int, page_size: int, status: list[str] | None = None,
                      lot_id: int | None = None, farm_id: int | None = None) -> ReservationsPage:
    """A trader's own reservations, or those on a producer's farms; newest first."""
    query = select(Reservation)
    if user.has_role("trader"):
        query = query.where(Reservation.trader_id == user.id)
    elif user.has_role("producer"):
        query = query.join(Lot, Lot.id == Reservation.lot_id).join(Farm, Farm.id == Lot.farm_id).where(
            Farm.owner_id == user.id)
    elif not user.has_role("admin"):
        raise Forbidden(_l("Les réservations sont réservées aux producteurs et aux commerçants."))
    if status:
        query = query.where(Reservation.status.in_(status))
    if lot_id is not None:
        query = query.where(Reservation.lot_id == lot_id)
    if farm_id is not None:
        query = query.where(Reservation.lot_id.in_(select(Lot.id).where(Lot.farm_id == farm_id)))
    total = db.session.scalar(select(db.func.count()).select_from(query.subquery()))
    items = db.session.scalars(
        query.options(selectinload(Reservation.lot).selectinload(Lot.farm), selectinload(Reservation.trader))
        .order_by(Reservation.created_at.desc(), Reservation.id.desc())
        .limit(page_size).offset((page - 1) * page_size)).all()
    return ReservationsPage(list(items), total)


# --- reserving -----------------------------------------------------------------------------------

def _check_pickup(lot: Lot, pickup_at: dt.datetime, now: dt.datetime) -> None:
    """A pickup time must be ahead, in the lot's window and in the farm's hours; else say when one can come."""
    if pickup_at.tzinfo is None:
        raise InvalidInput(_l("Indiquez le fuseau horaire de l'heure de retrait."),
                           errors={"pickup_at": ["Needs a UTC offset."]})
    hours = lot.farm.pickup_hours or {}
    in_window = max(now, lot.available_from) <= pickup_at < lot.available_until
    if in_window and is_open(pickup_at, hours):
        return
    window = {"window_start": lot.available_from, "window_end": lot.available_until}
    # The first slot from the asked time on; when there is none (asked too late), the first from now.
    after = pickup_at if now <= pickup_at < lot.available_until else now
    slot = next_pickup(after, hours, **window) or next_pickup(now, hours, **window)
    reason = ("Outside the lot's availability window." if not in_window else "Outside the farm's pickup hours.")
    message = (_l("Retrait impossible à cette heure : prochain créneau le %(when)s.",
                  when=slot.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")) if slot else
               _l("Plus aucun créneau de retrait possible pour ce lot."))
    raise InvalidInput(message, code="pickup_unavailable", errors={"pickup_at": [reason]},
                       extra={"next_slot": slot.isoformat() if slot else None})


def _by_key(trader_id: int, key: str) -> Reservation | None:
    return db.session.scalar(select(Reservation).where(Reservation.trader_id == trader_id,
                                                       Reservation.idempotency_key == key)
                             .execution_options(populate_existing=True))


def _replay(existing: Reservation, lot_id: int, quantity: Decimal) -> Reservation:
    """A retried request answers the reservation it made; the same key for another request is an error."""
    if existing.lot_id != lot_id or existing.quantity != quantity:
        raise InvalidInput(_l("Cette clé d'idempotence a déjà servi pour une autre réservation."),
                           code="idempotency_key_reused",
                           errors={"Idempotency-Key": ["Already used for a different request."]})
    return existing


def _can_serve(lot: Lot, quantity: Decimal, now: dt.datetime) -> bool:
    """What the conditional update checks, on a lot as read: whether the update has a chance to take it."""
    return (lot.status == LotStatus.published.value and lot.available_until > now
            and lot.quantity_available >= quantity
            and (lot.min_order is None or lot.min_order <= quantity or lot.quantity_available == quantity))


def _why_not(lot: Lot, quantity: Decimal, now: dt.datetime) -> DomainError:
    """Why this lot, as read, cannot serve the quantity."""
    if lot.status in (LotStatus.withdrawn.value, LotStatus.expired.value) or lot.available_until <= now:
        return Conflict(_l("Ce lot n'est plus proposé."), code="lot_closed")
    available = lot.quantity_available
    if lot.min_order is not None and quantity < lot.min_order and quantity != available:
        return Conflict(_l("La commande minimale pour ce lot est de %(min)s %(unit)s.",
                           min=_number(lot.min_order), unit=lot.unit),
                        code="under_min_order", extra={"min_order": float(lot.min_order)})
    return Conflict(_l("Stock insuffisant : il reste %(left)s %(unit)s.", left=_number(available), unit=lot.unit),
                    code="stock_short", extra={"quantity_available": float(available)})


def _refuse(lot: Lot, trader: User, quantity: Decimal, idempotency_key: str | None, now: dt.datetime) -> Reservation:
    """Refuse, unless this key's reservation was committed meanwhile (a retry racing its original): it is the answer."""
    if idempotency_key is not None and (existing := _by_key(trader.id, idempotency_key)) is not None:
        return _replay(existing, lot.id, quantity)
    refusal = _why_not(lot, quantity, now)
    # Nothing is written: the transaction ends with a COMMIT rather than the ROLLBACK of the request's end, on which
    # psycopg drops every statement it has prepared on the connection (the next reservations would be planned again).
    db.session.commit()
    raise refusal


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}".replace(".", ",")


def reserve(lot_id: int, trader: User, quantity, pickup_at: dt.datetime | None = None,
            idempotency_key: str | None = None, *, now: dt.datetime | None = None) -> Reservation:
    """Hold part of a lot for pickup: the stock is taken at once, atomically, or the request is refused."""
    now = now or utcnow()
    if not trader.has_role("trader"):
        raise Forbidden(_l("Seuls les commerçants peuvent réserver."))
    quantity = to_quantity(quantity)
    if quantity <= 0:
        raise InvalidInput(_l("La quantité doit être positive."), errors={"quantity": ["Must be positive."]})
    if idempotency_key is not None:
        idempotency_key = idempotency_key.strip()
        if not idempotency_key or len(idempotency_key) > IDEMPOTENCY_KEY_MAX_LENGTH:
            raise InvalidInput(_l("Clé d'idempotence invalide."),
                               errors={"Idempotency-Key": [f"1 to {IDEMPOTENCY_KEY_MAX_LENGTH} characters."]})
    # PostgreSQL: these reads run before the transaction that takes the stock, which starts with the take itself,
    # in its round trip (one round trip fewer; each statement sees the data as of its start either way).
    with without_begin(db.session()):
        existing = _by_key(trader.id, idempotency_key) if idempotency_key is not None else None
        # The farm comes with the lot: pickup hours and distance need it, and so does the feed event.
        lot = db.session.scalars(_LOT_WITH_FARM, {"lot_id": lot_id}).one_or_none() if existing is None else None
    if existing is not None:
        return _replay(existing, lot_id, quantity)
    if lot is None:
        raise NotFound(_l("Lot introuvable."))
    # A refusal may rest on this read (it was true while the request ran); only taking stock must be atomic.
    if not _can_serve(lot, quantity, now):
        return _refuse(lot, trader, quantity, idempotency_key, now)
    farm = lot.farm
    if pickup_at is not None:
        _check_pickup(lot, pickup_at, now)
    distance = (round(distance_km(farm.lat, farm.lon, trader.base_lat, trader.base_lon), 2)
                if trader.base_lat is not None and trader.base_lon is not None else None)

    # Prebuilt Core statements write the rows (through the ORM's unit of work they cost a third of the request's
    # CPU); the reservation object is then attached to the session as if loaded, for the answer and the events.
    hold = dt.timedelta(minutes=current_app.config["HOLD_MINUTES"])
    values = {"lot_id": lot_id, "trader_id": trader.id, "quantity": quantity, "status": PENDING, "pickup_code": new_pickup_code(),
              # In UTC, as stored: the answer and the feed event show the time as every later read does.
              "pickup_at": pickup_at.astimezone(dt.timezone.utc) if pickup_at is not None else None,
              "idempotency_key": idempotency_key, "distance_km": distance, "created_at": now, "updated_at": now,
              "closed_at": None, "collect_failures": 0, "collect_locked_until": None} | _terms(lot, now + hold)
    taking = {"lot_id": lot_id, "quantity": quantity, "now": now}
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    if postgresql and not db.session().in_nested_transaction() and not publish.has_queued(db.session()):
        try:
            reservation = _reserve_in_one_round_trip(lot, trader, values, taking, now + hold)
        except psycopg.errors.UniqueViolation:
            if (existing := _won_by_the_same_key(trader, idempotency_key)) is not None:
                return _replay(existing, lot_id, quantity)
            raise
        if reservation is not None:
            return reservation
        # Nothing taken, nothing written: the lot as it is now says why, unless it was re-priced or re-windowed
        # after our read, when it is taken below at its new price and window (corrected again from the update's
        # row should it change once more).
        db.session.commit()
        lot = db.session.scalars(_LOT_WITH_FARM, {"lot_id": lot_id}).one()
        if not _can_serve(lot, quantity, now):
            return _refuse(lot, trader, quantity, idempotency_key, now)
        if pickup_at is not None:
            _check_pickup(lot, pickup_at, now)  # in the window as it is now
        values |= _terms(lot, now + hold)
    try:
        if postgresql:
            # One statement: the conditional update, then from the lot as it took the stock the hold, its first
            # transition and its stock movement, and the report rollup's upserts (rollup.counted_after), all
            # only if it took some. The lot's row is locked by the update and kept to the commit, after the
            # numbers; the rollup's rows after it, as in every other transaction (lot, reservations, rollup,
            # counter). Nothing is written when nothing is taken.
            share = rollup.share(Reservation(**values))
            taken = db.session.execute(_take_and_hold(tuple(share)),
                                       _take_parameters(values, taking, share, now + hold)).one_or_none()
            reservation_id = taken.id if taken is not None else None
        else:
            # SQLite: the hold is written first, then the stock taken (writers are serialised by the database).
            reservation_id = _write_hold(values)
            taken = db.session.execute(_TAKE_STOCK, taking).one_or_none()
    except IntegrityError:
        if (existing := _won_by_the_same_key(trader, idempotency_key)) is not None:
            return _replay(existing, lot_id, quantity)
        raise
    if taken is None:
        if reservation_id is not None:
            db.session.rollback()  # the hold written above goes with it
        return _refuse(db.session.get(Lot, lot_id, populate_existing=True), trader, quantity, idempotency_key, now)
    if (taken.price_cents, taken.available_until) != (lot.price_cents, lot.available_until):
        # Re-priced or re-windowed between the read and the update (rare): the hold follows the lot as taken
        # (PostgreSQL wrote it so from the update's row; SQLite wrote it from the read and corrects it here).
        values |= _terms(taken, now + hold)
        if not postgresql:
            db.session.execute(update(_reservations).where(_reservations.c.id == reservation_id).values(
                price_cents=values["price_cents"], hold_expires_at=values["hold_expires_at"]))
    reservation = Reservation(id=reservation_id, **values)
    for name in ("quantity_available", "status", "updated_at", "price_cents", "available_until"):
        set_committed_value(lot, name, getattr(taken, name))
    make_transient_to_detached(reservation)
    db.session.add(reservation)
    if not postgresql:
        rollup.reserved(reservation)
    publish.lot_event(lot, "sold_out" if lot.status == LotStatus.sold_out.value else "reserved")
    publish.reservation_event(reservation, "created")
    _commit_and_keep()
    return reservation


def _reserve_in_one_round_trip(lot: Lot, trader: User, values: dict, taking: dict,
                               hold_until: dt.datetime) -> Reservation | None:
    """PostgreSQL: take the stock, write the hold (`_take_and_hold`), number and store its two events, and commit,
    in one round trip (`publish.commit_pipelined`): the lot's row, locked by the take, is held only while
    PostgreSQL runs the rest and commits, never while this worker serves other requests. On one contended lot
    that hold is what every reservation queues for (docs/reservations.md, Throughput).

    The events are built from the lot as read and completed in SQL with what only the take knows: the stock left,
    the lot's status, the hold's id. The take also requires the price and window as read, which the events and the
    hold repeat: when the producer changed them meanwhile nothing is taken, as when the stock is short. Answers the
    reservation, committed, or None when nothing was taken (and nothing written)."""
    reservation = Reservation(**values)
    share = rollup.share(reservation)
    now = values["created_at"]
    events = [publish.new_lot_event(lot, "reserved"),
              publish.new_reservation_event(reservation, "created", lot=lot, trader=trader)]
    events[0]["payload"]["lot"]["updated_at"] = now.isoformat()  # what the take writes
    taken, numbers = publish.commit_pipelined(
        db.session(),
        (_take_and_hold(tuple(share), guarded=True), _take_parameters(values, taking, share, hold_until) | {
            "read_price_cents": lot.price_cents, "read_available_until": lot.available_until}),
        (_EVENTS_COMPLETED, publish.event_parameters(events, utcnow()) | {"count": len(events), "lot_id": lot.id}))
    if taken is None:
        return None
    quantity_available, status, updated_at, _, _, reservation_id, _ = taken
    for name, value in (("quantity_available", quantity_available), ("status", status), ("updated_at", updated_at)):
        set_committed_value(lot, name, value)
    reservation.id = reservation_id
    make_transient_to_detached(reservation)
    db.session.add(reservation)
    for name, value in (("lot", lot), ("trader", trader)):  # as if loaded with it: the answer needs them
        set_committed_value(reservation, name, value)
    # The events as stored: what the SQL completed, completed here the same way.
    lot_event, reservation_event = events
    lot_event["type"] = "sold_out" if status == LotStatus.sold_out.value else "reserved"
    lot_event["payload"]["lot"] |= {"quantity_available": float(quantity_available), "status": status}
    reservation_event["reservation_id"] = reservation_id
    reservation_event["payload"]["reservation"]["id"] = reservation_id
    reservation_event["payload"]["reservation"]["lot"]["status"] = status
    publish.deliver_after_commit(db.session(), events, *numbers)
    _commit_and_keep()  # SQLAlchemy's side: the transaction is over, the events are delivered
    return reservation


def _terms(lot, hold_until: dt.datetime) -> dict:
    """A hold's price and expiry from its lot (as read, or as the update took it): its price, and the hold time
    cut short by the end of its window."""
    return {"price_cents": lot.price_cents, "hold_expires_at": min(hold_until, lot.available_until)}


def _take_parameters(values: dict, taking: dict, share: dict, hold_until: dt.datetime) -> dict:
    """The parameters of `_take_and_hold`: the update's, the hold's columns (prefixed) and the rollup's share."""
    return taking | share | {f"hold_{name}": value for name, value in values.items()} | {
        "trader_id": values["trader_id"], "hold_until": hold_until, "delta_available": -values["quantity"]}


def _won_by_the_same_key(trader: User, idempotency_key: str | None) -> Reservation | None:
    """After a write broke the key's uniqueness: the same key was used at the same time and won. Its reservation
    is the answer; ours never happened (rolled back here)."""
    db.session.rollback()
    return _by_key(trader.id, idempotency_key) if idempotency_key is not None else None


def _write_hold(values: dict) -> int:
    """The reservation, its first transition and its stock movement (SQLite); answers the reservation's id."""
    reservation_id = db.session.execute(_WRITE_HOLD, values).scalar_one()
    db.session.execute(_WRITE_TRANSITION, {"reservation_id": reservation_id, "from_status": None,
                                           "to_status": values["status"], "actor_id": values["trader_id"],
                                           "at": values["created_at"]})
    db.session.execute(_WRITE_MOVEMENT, {"lot_id": values["lot_id"], "user_id": values["trader_id"],
                                         "reservation_id": reservation_id, "delta_offered": Decimal(0),
                                         "delta_available": -values["quantity"], "reason": "reserved",
                                         "request_key": None, "created_at": values["created_at"]})
    return reservation_id


_lots, _reservations = Lot.__table__, Reservation.__table__
_transitions, _movements = ReservationTransition.__table__, StockMovement.__table__
# Built once (SQLAlchemy then reuses their compiled form): they run on every reservation.
_LOT_WITH_FARM = select(Lot).options(joinedload(Lot.farm)).where(Lot.id == bindparam("lot_id"))
_WRITE_HOLD = insert(_reservations).returning(_reservations.c.id)
_WRITE_TRANSITION = insert(_transitions)
_WRITE_MOVEMENT = insert(_movements)


def _param(column):
    """A parameter for a reservation's column, typed by it. Prefixed: an UPDATE in the same statement would take a
    parameter named after one of its table's columns as a value to set (lots also have `price_cents`, `created_at`)."""
    return bindparam(f"hold_{column.name}", type_=column.type)


_quantity, _now = bindparam("quantity", type_=Quantity()), bindparam("now", type_=UTCDateTime())
_TAKE_STOCK = (
    update(_lots)
    .where(_lots.c.id == bindparam("lot_id"), _lots.c.status == bindparam("published", LotStatus.published.value),
           _lots.c.available_until > _now, _lots.c.quantity_available >= _quantity,
           or_(_lots.c.min_order.is_(None), _lots.c.min_order <= _quantity, _lots.c.quantity_available == _quantity))
    .values(quantity_available=_lots.c.quantity_available - _quantity,
            status=case((_lots.c.quantity_available == _quantity, bindparam("sold_out", LotStatus.sold_out.value)),
                        else_=_lots.c.status),
            updated_at=_now)
    # What the update may have changed, and what the hold copied from the read (a producer may have changed it).
    .returning(_lots.c.quantity_available, _lots.c.status, _lots.c.updated_at, _lots.c.price_cents,
               _lots.c.available_until))
_TAKE_AND_HOLD: dict[tuple, object] = {}


def _take_and_hold(names: tuple[str, ...], guarded: bool = False):
    """PostgreSQL: the conditional update and, reading its row, the hold's three inserts and the rollup's upserts
    (`names`: the rollup columns a new hold counts in), in one statement; answers the lot as taken and the hold's id.
    `guarded`: the update also requires the lot's price and window as read (`read_price_cents`,
    `read_available_until`), and the hold's id is kept for the rest of the transaction (`_HOLD_ID`)."""
    key = (names, guarded)
    if key not in _TAKE_AND_HOLD:
        take = _TAKE_STOCK.where(_lots.c.price_cents == bindparam("read_price_cents"),
                                 _lots.c.available_until == bindparam("read_available_until",
                                                                      type_=UTCDateTime())) if guarded else _TAKE_STOCK
        taken = take.cte("taken")
        columns = [c for c in _reservations.c if c.name not in ("id", "price_cents", "hold_expires_at")]
        hold = (insert(_reservations).from_select(
            [c.name for c in columns] + ["price_cents", "hold_expires_at"],
            select(*[_param(c) for c in columns], taken.c.price_cents,
                   func.least(bindparam("hold_until", type_=UTCDateTime()), taken.c.available_until))
            .select_from(taken), include_defaults=False)
            .returning(_reservations.c.id).cte("hold"))
        first_transition = insert(_transitions).from_select(
            ["reservation_id", "from_status", "to_status", "actor_id", "at"],
            select(hold.c.id, null(), _param(_reservations.c.status), _param(_reservations.c.trader_id),
                   _param(_reservations.c.created_at)))
        movement = insert(_movements).from_select(
            ["lot_id", "user_id", "reservation_id", "delta_offered", "delta_available", "reason", "created_at"],
            select(_param(_reservations.c.lot_id), _param(_reservations.c.trader_id), hold.c.id,
                   bindparam("delta_offered", Decimal(0), type_=Quantity()),
                   bindparam("delta_available", type_=Quantity()), bindparam("reason", "reserved"),
                   _param(_reservations.c.created_at)))
        kept = [func.set_config(_HOLD_SETTING, cast(hold.c.id, Text), true())] if guarded else []
        _TAKE_AND_HOLD[key] = (
            select(*taken.c, hold.c.id, *kept).select_from(taken).join(hold, true())
            .add_cte(first_transition.cte("first_transition"), movement.cte("reserved_movement"),
                     *rollup.counted_after(taken, names)))
    return _TAKE_AND_HOLD[key]


# The hold `_take_and_hold(guarded=True)` wrote, for the statements after it in the same transaction (a setting local
# to the transaction: empty, hence NULL here, in any other); and its two events, stored only when there is one.
_HOLD_SETTING = "carreau.hold_id"
_HOLD_ID = cast(func.nullif(func.current_setting(_HOLD_SETTING, true()), ""), Integer)


def _events_completed():
    """The lot's and the hold's events (rows 0 and 1 of `publish.event_rows`), their payloads completed from the lot
    as the take left it (parameter `lot_id`) and the hold's id, numbered and stored only when a hold was written."""
    after = select(_lots.c.quantity_available, _lots.c.status, _HOLD_ID.label("hold_id")).where(
        _lots.c.id == bindparam("lot_id"), _HOLD_ID.is_not(None)).cte("after_take")

    def completed(i: int, *paths):
        payload = cast(bindparam(f"payload_{i}", type_=JSONB), JSONB)
        for path, value in paths:
            payload = func.jsonb_set(payload, literal(path, ARRAY(Text)), value)
        return cast(payload, JSON)

    # The stock left as Python writes it (json.dumps of a float: "7.0", "2.249"), so that a replayed event reads
    # as the live one did: whole numbers get their ".0", others float8's shortest form, which is Python's too
    # (no exponent below the API's million).
    left, scale = type_coerce(after.c.quantity_available, BigInteger), literal(QUANTITY_SCALE, BigInteger)
    left_json = cast(case((left % scale == 0, cast(left // scale, Text) + literal(".0")),
                          else_=cast(cast(left, Float) / cast(scale, Float), Text)), JSONB)
    sold_out = after.c.status == LotStatus.sold_out.value
    rows = publish.event_rows(2, {
        (0, "type"): case((sold_out, literal(LotStatus.sold_out.value)), else_=literal("reserved")),
        (0, "payload"): completed(0, (["lot", "quantity_available"], left_json),
                                  (["lot", "status"], func.to_jsonb(after.c.status))),
        (1, "reservation_id"): after.c.hold_id,
        (1, "payload"): completed(1, (["reservation", "id"], func.to_jsonb(after.c.hold_id)),
                                  (["reservation", "lot", "status"], func.to_jsonb(after.c.status))),
    }, source=after)
    return publish.numbered_insert(rows, only_if=exists(select(literal(1)).select_from(after))).add_cte(after)


_EVENTS_COMPLETED = _events_completed()


def _commit_and_keep() -> None:
    """Commit without expiring what was just written: the answer is built from it with no reloading queries."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


# --- moving between states -----------------------------------------------------------------------

def _impossible(status: str, action: str) -> Conflict:
    return Conflict(_l("Impossible : cette réservation est « %(status)s ».", status=status),
                    code="invalid_transition", extra={"reservation_status": status, "action": action})


def _give_back(reservation: Reservation, actor_id: int | None, now: dt.datetime) -> None:
    """Return a hold's quantity to its lot; a sold-out lot still in its window is on offer again."""
    db.session.execute(
        update(Lot).where(Lot.id == reservation.lot_id)
        .values(quantity_available=Lot.quantity_available + reservation.quantity,
                status=case((and_(Lot.status == LotStatus.sold_out.value, Lot.available_until > now),
                             LotStatus.published.value), else_=Lot.status),
                updated_at=now)
        .execution_options(synchronize_session=False))
    db.session.add(StockMovement(lot_id=reservation.lot_id, user_id=actor_id, reservation_id=reservation.id,
                                 delta_available=reservation.quantity, reason=f"hold_{reservation.status}",
                                 created_at=now))


def _move(reservation: Reservation, action: str, actor_id: int | None, now: dt.datetime, *conditions,
          **values) -> bool:
    """Compare-and-set: move from the status we saw, or do nothing if someone moved it first.

    The caller has locked the lot already when the move gives stock back (lot before reservation).
    """
    move = MOVES[action]
    seen = reservation.status
    if seen not in move.sources:
        return False
    changes = {"status": move.to, "updated_at": now, **values}
    if move.to in FINAL_STATUSES:
        changes["closed_at"] = now
    done = db.session.execute(
        update(Reservation).where(Reservation.id == reservation.id, Reservation.status == seen, *conditions)
        .values(**changes).execution_options(synchronize_session=False)).rowcount
    if not done:
        return False
    db.session.refresh(reservation)
    rollup.moved(reservation, seen)
    db.session.add(ReservationTransition(reservation_id=reservation.id, from_status=seen, to_status=move.to,
                                         actor_id=actor_id, at=now))
    if move.ends_hold:
        _give_back(reservation, actor_id, now)
    return True


def _transition(reservation: Reservation, action: str, actor_id: int | None, now: dt.datetime, *conditions,
                **values) -> Reservation:
    """Apply one move in its own transaction, publish it, commit; 409 if the reservation is not movable."""
    move = MOVES[action]
    if reservation.status not in move.sources:
        raise _impossible(reservation.status, action)
    lot_before = lock_lot(reservation.lot_id).status if move.ends_hold else None
    if not _move(reservation, action, actor_id, now, *conditions, **values):
        db.session.rollback()
        raise _impossible(_load(reservation.id).status, action)
    # Events last: the feed counter is the final lock a transaction takes.
    publish.reservation_event(reservation, reservation.status)
    if move.ends_hold:
        lot = db.session.get(Lot, reservation.lot_id, populate_existing=True)
        publish.lot_event(lot, "published" if (lot_before, lot.status) == ("sold_out", "published") else "updated")
    _commit_and_keep()
    return reservation


def _expire_now(reservation: Reservation, now: dt.datetime) -> bool:
    """Expire a pending hold whose time is up (used by the job and when someone acts on it too late)."""
    try:
        _transition(reservation, "expire", None, now, Reservation.hold_expires_at <= now)
        return True
    except Conflict:
        return False


def confirm(reservation_id: int, producer: User, *, now: dt.datetime | None = None) -> Reservation:
    """The producer accepts a pending hold; it must still be within its hold time."""
    now = now or utcnow()
    reservation = _as_producer(reservation_id, producer)
    if reservation.status == PENDING and reservation.hold_expires_at <= now:
        _expire_now(reservation, now)
        raise Conflict(_l("Trop tard : cette réservation a expiré faute de confirmation à temps."),
                       code="hold_expired", extra={"reservation_status": _load(reservation_id).status})
    return _transition(reservation, "confirm", producer.id, now, Reservation.hold_expires_at > now)


def decline(reservation_id: int, producer: User, *, now: dt.datetime | None = None) -> Reservation:
    """The producer refuses a pending hold; its quantity goes back on offer."""
    return _transition(_as_producer(reservation_id, producer), "decline", producer.id, now or utcnow())


def cancel(reservation_id: int, trader: User, *, now: dt.datetime | None = None) -> Reservation:
    """The trader gives up a hold, pending or confirmed, until the pickup time has come."""
    now = now or utcnow()
    reservation = _as_trader(reservation_id, trader)
    if reservation.status == CONFIRMED:
        pickup_from = reservation.pickup_at or reservation.lot.available_until
        if now >= pickup_from:
            raise Conflict(_l("Trop tard pour annuler : l'heure du retrait est passée."), code="too_late_to_cancel",
                           extra={"reservation_status": reservation.status})
    return _transition(reservation, "cancel", trader.id, now)


def collect(reservation_id: int, producer: User, code: str, *, now: dt.datetime | None = None) -> Reservation:
    """The producer hands the goods over on the trader's pickup code; wrong codes are counted and then locked."""
    now = now or utcnow()
    reservation = _as_producer(reservation_id, producer)
    locked_until = reservation.collect_locked_until
    if locked_until is not None and locked_until > now:
        wait_s = int((locked_until - now).total_seconds()) + 1
        raise TooManyAttempts(_l("Trop de codes erronés : réessayez dans %(min)s min.", min=(wait_s + 59) // 60),
                              extra={"retry_after_s": wait_s})
    if reservation.status not in MOVES["collect"].sources:
        raise _impossible(reservation.status, "collect")
    if not hmac.compare_digest(normalize_code(code or "").encode(), reservation.pickup_code.encode()):
        raise _wrong_code(reservation, now)
    return _transition(reservation, "collect", producer.id, now, collect_failures=0, collect_locked_until=None)


def _wrong_code(reservation: Reservation, now: dt.datetime) -> DomainError:
    """Count a wrong code (atomically: concurrent guesses all count) and lock after too many."""
    failures = db.session.execute(
        update(Reservation).where(Reservation.id == reservation.id)
        .values(collect_failures=Reservation.collect_failures + 1)
        .returning(Reservation.collect_failures).execution_options(synchronize_session=False)).scalar_one()
    if failures >= MAX_COLLECT_FAILURES:
        db.session.execute(update(Reservation).where(Reservation.id == reservation.id)
                           .values(collect_failures=0,
                                   collect_locked_until=now + dt.timedelta(minutes=COLLECT_LOCK_MINUTES))
                           .execution_options(synchronize_session=False))
    db.session.commit()
    if failures >= MAX_COLLECT_FAILURES:
        return TooManyAttempts(_l("Trop de codes erronés : réessayez dans %(min)s min.", min=COLLECT_LOCK_MINUTES),
                               extra={"retry_after_s": COLLECT_LOCK_MINUTES * 60})
    return InvalidInput(_l("Code de retrait erroné."), code="wrong_pickup_code",
                        errors={"code": ["Does not match this reservation's pickup code."]},
                        extra={"attempts_left": MAX_COLLECT_FAILURES - failures})


# --- what happens without anyone acting ----------------------------------------------------------

def _ids(query, batch: int) -> list[int]:
    ids = list(db.session.scalars(query.limit(batch)))
    db.session.rollback()  # read outside the per-item transactions: SQLite then never holds a stale snapshot
    return ids


def expire_holds(now: dt.datetime | None = None, *, batch: int = 500) -> int:
    """Pending holds past their time expire and give their stock back; safe to run again at any time."""
    now = now or utcnow()
    count = 0
    while True:
        ids = _ids(select(Reservation.id).where(Reservation.status == PENDING, Reservation.hold_expires_at <= now)
                   .order_by(Reservation.id), batch)
        done = sum(_expire_now(_load(rid), now) for rid in ids)
        count += done
        if len(ids) < batch or not done:
            return count


def mark_no_shows(now: dt.datetime | None = None, *, batch: int = 500) -> int:
    """Confirmed reservations not collected by the end of their pickup slot plus the grace period."""
    now = now or utcnow()
    grace = dt.timedelta(minutes=current_app.config["NO_SHOW_GRACE_MINUTES"])
    cutoff = now - grace
    # Candidates in SQL (a slot ends at or after its pickup time); the exact slot end is checked below.
    query = (select(Reservation.id).join(Lot, Lot.id == Reservation.lot_id)
             .where(Reservation.status == CONFIRMED,
                    or_(Reservation.pickup_at <= cutoff,
                        and_(Reservation.pickup_at.is_(None), Lot.available_until <= cutoff)))
             .order_by(Reservation.id))
    count, after = 0, 0
    while True:
        ids = _ids(query.where(Reservation.id > after), batch)
        for rid in ids:
            reservation = _load(rid)
            lot = reservation.lot
            deadline = pickup_deadline(reservation.pickup_at, lot.farm.pickup_hours, lot.available_until)
            if deadline + grace > now:
                db.session.rollback()
                continue
            try:
                _transition(reservation, "no_show", None, now)
                count += 1
            except Conflict:
                pass
        if len(ids) < batch:
            return count
        after = ids[-1]


def release_pending_holds(lot: Lot, action: str, actor_id: int | None, now: dt.datetime) -> list[Reservation]:
    """End every pending hold of a lot being closed or withdrawn; the caller holds the lot's lock and publishes."""
    db.session.flush()
    # Locked all at once, before the first move locks the lot's report totals: a confirmation racing us holds its
    # reservation, then wants those totals; taking them first and its reservation next would deadlock.
    pending = db.session.scalars(select(Reservation).where(Reservation.lot_id == lot.id, Reservation.status == PENDING)
                                 .order_by(Reservation.id).with_for_update()).all()
    released = [reservation for reservation in pending if _move(reservation, action, actor_id, now)]
    if released:
        db.session.refresh(lot)
    for reservation in released:
        publish.reservation_event(reservation, reservation.status)
    return released


def close_expired_lots(now: dt.datetime | None = None, *, batch: int = 500) -> int:
    """Lots past their availability close (expired); their pending holds expire with them."""
    now = now or utcnow()
    count = 0
    while True:
        ids = _ids(select(Lot.id).where(Lot.status.in_((LotStatus.published.value, LotStatus.sold_out.value)),
                                        Lot.available_until <= now).order_by(Lot.id), batch)
        for lot_id in ids:
            lot = lock_lot(lot_id)
            if not lot.is_open or lot.available_until > now:
                db.session.rollback()
                continue
            lot.status = LotStatus.expired.value
            lot.updated_at = now
            release_pending_holds(lot, "expire", None, now)
            publish.lot_event(lot, "expired")
            db.session.commit()
            count += 1
        if len(ids) < batch:
            return count
