"""The feed log keeps FEED_RETENTION_DAYS of events; the pruning job forgets older ones, and only those."""
import datetime as dt

import pytest

from exchange import jobs
from exchange.domain import watches
from exchange.models import FeedCounter, FeedEvent, WatchChange
from exchange.models.types import utcnow


@pytest.fixture
def app_config():
    return {"FEED_RETENTION_DAYS": 3}


def test_the_job_prunes_events_and_watch_changes_past_the_window(app, db, make_user, make_farm, make_lot,
                                                                 make_trader):
    farm = make_farm(make_user("producer"))
    old, recent = make_lot(farm), make_lot(farm)
    watches.create_watch(make_trader(), radius_km=10)
    watches.create_watch(make_trader(), radius_km=10)
    long_ago = utcnow() - dt.timedelta(days=3, minutes=1)
    db.session.execute(db.update(FeedEvent).where(FeedEvent.lot_id == old.id).values(created_at=long_ago))
    db.session.execute(db.update(WatchChange).where(WatchChange.version == 1).values(created_at=long_ago))
    db.session.commit()

    assert jobs.JOBS["prune_feed_log"].func() == {"feed_events": 1, "watch_changes": 1}
    assert db.session.scalars(db.select(FeedEvent.lot_id)).all() == [recent.id]
    assert db.session.scalars(db.select(WatchChange.version)).all() == [2]
    assert db.session.scalar(db.select(FeedCounter.last_seq)) == 2  # numbers are never reused
    assert jobs.JOBS["prune_feed_log"].func() is None  # nothing left to prune
