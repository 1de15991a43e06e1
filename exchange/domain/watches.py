"""Watches: a trader's standing searches, which the live feed matches every lot event against.

Every change is logged with a commit-ordered version (WatchVersion / WatchChange) in the same
transaction, so that each server process can bring its in-memory watch index up to date with one
cheap read before matching (exchange/feed/matching.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from exchange.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from exchange.extensions import db
from exchange.models import CATEGORIES, LABELS, User, Watch, WatchChange, WatchVersion

MAX_RADIUS_KM = 200.0
# Enough for a buyer with several depots and product lines; beyond it a watch list is a mistake or abuse.
MAX_WATCHES_PER_TRADER = 50
_FIELDS = ("name", "radius_km", "categories", "q", "max_price_cents", "labels", "min_quantity", "active")


def _require_trader(user: User) -> None:
    if not user.has_role("trader"):
        raise Forbidden(_l("Seuls les acheteurs ont des veilles."))


def get_own_watch(user: User, watch_id: int) -> Watch:
    """A watch its trader may read or change; another trader's watch is refused."""
    _require_trader(user)
    watch = db.session.get(Watch, watch_id)
    if watch is None:
        raise NotFound(_l("Veille introuvable."))
    if watch.trader_id != user.id:
        raise Forbidden(_l("Cette veille n'est pas la vôtre."))
    return watch


def record_change(watch_id: int) -> int:
    """Log that a watch changed, under the next commit-ordered version; returns that version."""
    version = db.session.execute(
        update(WatchVersion).where(WatchVersion.id == 1).values(version=WatchVersion.version + 1)
        .returning(WatchVersion.version)
    ).scalar_one()
    db.session.add(WatchChange(version=version, watch_id=watch_id))
    return version


def _centre(trader: User, lat: float | None, lon: float | None) -> tuple[float, float]:
    if (lat is None) != (lon is None):
        missing = "lon" if lon is None else "lat"
        raise InvalidInput(_l("Indiquez la latitude et la longitude ensemble."),
                           errors={missing: ["Required with the other coordinate."]})
    if lat is not None:
        return lat, lon
    if trader.base_lat is None or trader.base_lon is None:
        raise InvalidInput(_l("Indiquez le centre de la veille, ou renseignez votre base dans votre profil."),
                           errors={"lat": ["Required when your profile has no base."],
                                   "lon": ["Required when your profile has no base."]})
    return trader.base_lat, trader.base_lon


def _check(values: dict) -> None:
    errors = {}
    radius_km = values.get("radius_km")
    if radius_km is not None and not 0 < radius_km <= MAX_RADIUS_KM:
        errors["radius_km"] = [f"Must be more than 0 and at most {MAX_RADIUS_KM:g} km."]
    if set(values.get("categories") or ()) - set(CATEGORIES):
        errors["categories"] = [f"Must be among {', '.join(CATEGORIES)}."]
    if set(values.get("labels") or ()) - set(LABELS):
        errors["labels"] = [f"Must be among {', '.join(LABELS)}."]
    if values.get("min_quantity") is not None and values["min_quantity"] <= 0:
        errors["min_quantity"] = ["Must be more than 0."]
    if values.get("max_price_cents") is not None and values["max_price_cents"] < 0:
        errors["max_price_cents"] = ["Must be 0 or more."]
    if errors:
        raise InvalidInput(_l("Certaines valeurs de la veille sont invalides."), errors=errors)


def _clean_q(q: str | None) -> str | None:
    q = " ".join((q or "").split())
    return q or None


def create_watch(trader: User, *, radius_km: float, lat: float | None = None, lon: float | None = None,
                 categories=None, q: str | None = None, max_price_cents: int | None = None, labels=None,
                 min_quantity: Decimal | None = None, name: str | None = None, active: bool = True) -> Watch:
    """A trader watches a circle (around their base unless told otherwise) for lots that fit their filters."""
    _require_trader(trader)
    _check({"radius_km": radius_km, "categories": categories, "labels": labels, "min_quantity": min_quantity,
            "max_price_cents": max_price_cents})
    count = db.session.scalar(select(func.count()).select_from(Watch).where(Watch.trader_id == trader.id))
    if count >= MAX_WATCHES_PER_TRADER:
        raise Conflict(_l("Vous avez déjà %(n)s veilles : supprimez-en une d'abord.", n=MAX_WATCHES_PER_TRADER),
                       code="too_many_watches")
    lat, lon = _centre(trader, lat, lon)
    watch = Watch(trader_id=trader.id, name=(name or "").strip() or None, lat=lat, lon=lon, radius_km=radius_km,
                  q=_clean_q(q), max_price_cents=max_price_cents, min_quantity=min_quantity, active=active)
    watch.categories = categories
    watch.labels = labels
    db.session.add(watch)
    db.session.flush()
    record_change(watch.id)
    db.session.commit()
    return watch


def update_watch(trader: User, watch_id: int, changes: dict) -> Watch:
    """Change one's own watch; the feed matches with the new filters from the next event on."""
    watch = get_own_watch(trader, watch_id)
    _check(changes)
    if "lat" in changes or "lon" in changes:
        # Both, or both null to go back to the trader's base.
        watch.lat, watch.lon = _centre(trader, changes.pop("lat", None), changes.pop("lon", None))
    for field in _FIELDS:
        if field not in changes:
            continue
        value = changes[field]
        if field == "q":
            value = _clean_q(value)
        elif field == "name":
            value = (value or "").strip() or None
        elif field == "radius_km" and value is None:
            raise InvalidInput(_l("Le rayon est obligatoire."), errors={"radius_km": ["May not be null."]})
        elif field == "active" and value is None:
            raise InvalidInput(_l("Valeur manquante."), errors={"active": ["May not be null."]})
        setattr(watch, field, value)
    record_change(watch.id)
    db.session.commit()
    return watch


def delete_watch(trader: User, watch_id: int) -> None:
    """Stop watching; the feed stops matching it at once."""
    watch = get_own_watch(trader, watch_id)
    db.session.delete(watch)
    record_change(watch_id)
    db.session.commit()


@dataclass
class WatchesPage:
    items: list[Watch]
    total: int


def list_watches(trader: User, *, page: int, page_size: int) -> WatchesPage:
    """One's own watches, oldest first."""
    _require_trader(trader)
    query = select(Watch).where(Watch.trader_id == trader.id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    items = db.session.scalars(query.order_by(Watch.id).limit(page_size).offset((page - 1) * page_size)).all()
    return WatchesPage(list(items), total)


def active_watches_of(user_id: int) -> list[Watch]:
    """A trader's watches that are switched on (what the feed matches for them)."""
    return list(db.session.scalars(select(Watch).where(Watch.trader_id == user_id, Watch.active.is_(True))
                                   .order_by(Watch.id)))
