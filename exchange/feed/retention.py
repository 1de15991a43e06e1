"""How long the feed remembers: events (and watch changes) older than FEED_RETENTION_DAYS are pruned.

A client that resumes from a position older than what is kept is told to `resync` (reload over
HTTP); the counters keep their numbers, so `seq` never goes back.
"""
from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import delete

from exchange.extensions import db
from exchange.models import FeedEvent, WatchChange
from exchange.models.types import utcnow


def prune_feed_log(now: dt.datetime | None = None) -> dict[str, int]:
    """Forget feed events and watch changes past the retention window; returns how many of each went."""
    cutoff = (now or utcnow()) - dt.timedelta(days=current_app.config["FEED_RETENTION_DAYS"])
    events = db.session.execute(delete(FeedEvent).where(FeedEvent.created_at < cutoff)).rowcount
    changes = db.session.execute(delete(WatchChange).where(WatchChange.created_at < cutoff)).rowcount
    db.session.commit()
    return {"feed_events": events, "watch_changes": changes}
