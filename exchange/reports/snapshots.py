"""Monthly snapshots: each chamber's reports for a settled month, kept as they were and downloadable.

A month is settled a week after it ends: lots posted on its last days have been collected or have
lapsed by then (holds, pickups and no-show grace periods are counted in hours). The daily job then
takes the snapshot of every chamber that lacks one for that month; running it twice, or after a
crash, makes no second one (a unique constraint settles a race between two processes).
"""
from __future__ import annotations

import datetime as dt

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from exchange.domain.errors import Forbidden, NotFound
from exchange.extensions import db
from exchange.models import ReportSnapshot, User
from exchange.models.types import utcnow
from exchange.reports.periods import PARIS, Period, month_key
from exchange.reports.prices import price_stats
from exchange.reports.scope import Scope
from exchange.reports.summary import summary

SETTLE_DAYS = 7
GROUPINGS = ("category", "department", "commune", "product")
SECTIONS = GROUPINGS + ("prices",)


def due_month(now: dt.datetime | None = None) -> str:
    """The last month that has been over for at least SETTLE_DAYS, in Paris time."""
    today = (now or utcnow()).astimezone(PARIS).date()
    settled_until = today - dt.timedelta(days=SETTLE_DAYS)
    return month_key(settled_until.replace(day=1) - dt.timedelta(days=1))


def find_snapshot(chamber_id: int, month: str) -> ReportSnapshot | None:
    return db.session.scalar(select(ReportSnapshot).where(ReportSnapshot.chamber_id == chamber_id,
                                                          ReportSnapshot.month == month))


def take_snapshot(chamber: User, month: str) -> ReportSnapshot:
    """The chamber's snapshot of that month: the existing one, or a new one computed now."""
    existing = find_snapshot(chamber.id, month)
    if existing is not None:
        return existing
    territory = tuple(sorted({code.strip().upper() for code in chamber.territory or () if code.strip()}))
    minimum = current_app.config["REPORT_MIN_PRODUCERS"]
    scope = Scope(Period.of_month(month), territory)
    data = {grouping: summary(scope, (grouping,), minimum) for grouping in GROUPINGS}
    data["prices"] = price_stats(scope, "collected", minimum)
    snapshot = ReportSnapshot(chamber_id=chamber.id, month=month, territory=list(territory), min_producers=minimum,
                              data=data, taken_at=utcnow())
    db.session.add(snapshot)
    try:
        db.session.commit()
    except IntegrityError:  # another process took it between our look and our write
        db.session.rollback()
        return find_snapshot(chamber.id, month)
    return snapshot


def take_due_snapshots(now: dt.datetime | None = None) -> dict:
    """Snapshot the last settled month for every active chamber that lacks it."""
    month = due_month(now)
    chambers = db.session.scalars(select(User).where(User.role == "chamber", User.active.is_(True))
                                  .order_by(User.id)).all()
    taken = 0
    for chamber in chambers:
        if find_snapshot(chamber.id, month) is None:
            take_snapshot(chamber, month)
            taken += 1
    return {"month": month, "taken": taken} if taken else {}


def snapshots_for(user: User):
    """The snapshots a user may read, newest month first: a chamber its own, an admin all."""
    stmt = select(ReportSnapshot).order_by(ReportSnapshot.month.desc(), ReportSnapshot.id)
    if user.has_role("admin"):
        return stmt
    if user.has_role("chamber"):
        return stmt.where(ReportSnapshot.chamber_id == user.id)
    raise Forbidden(_l("Les rapports sont réservés aux chambres et aux administrateurs."))


def get_snapshot(user: User, snapshot_id: int) -> ReportSnapshot:
    snapshot = db.session.get(ReportSnapshot, snapshot_id)
    if snapshot is None:
        raise NotFound(_l("Rapport mensuel introuvable."))
    if not user.has_role("admin") and snapshot.chamber_id != user.id:
        raise Forbidden(_l("Ce rapport mensuel est celui d'une autre chambre."))
    return snapshot

