"""Scheduled jobs: thin functions that call domain services, run by exactly one process.

`flask scheduler` runs them in a process of their own (production); `flask serve --with-scheduler`
hosts them beside a single web process (`make run`). Web processes started by gunicorn never do.
Every job is idempotent: run twice, or after a crash, it does the same as once.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    func: Callable[[], object]
    trigger: str
    options: dict


JOBS: dict[str, Job] = {}


def job(name: str, trigger: str = "interval", **options):
    """Register a job; `options` are APScheduler trigger arguments (seconds=60, hour=2, ...)."""

    def register(func):
        JOBS[name] = Job(func, trigger, options)
        return func

    return register


def _in_app(app: Flask, name: str, func: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        with app.app_context():
            try:
                result = func()
                if result:
                    log.info("job %s: %s", name, result)
            except Exception:  # a failed run is logged; the next run tries again
                log.exception("job %s failed", name)
                from exchange.extensions import db
                db.session.rollback()

    return run


def build(app: Flask, *, blocking: bool = False):
    """A scheduler with every registered job, each wrapped in an app context."""
    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone="UTC")
    for name, spec in JOBS.items():
        scheduler.add_job(_in_app(app, name, spec.func), spec.trigger, id=name, name=name,
                          coalesce=True, max_instances=1, replace_existing=True, **spec.options)
    return scheduler


# --- the jobs ------------------------------------------------------------------------------------
# Each is a thin call into a domain service, registered with @job(name, trigger, **trigger_args).


@job("expire_holds", "interval", seconds=60)
def expire_holds() -> int:
    """Pending holds not confirmed in time give their stock back."""
    from exchange.domain import reservations

    return reservations.expire_holds()


@job("close_expired_lots", "interval", seconds=60)
def close_expired_lots() -> int:
    """Lots past their availability close; their pending holds expire with them."""
    from exchange.domain import reservations

    return reservations.close_expired_lots()


@job("mark_no_shows", "interval", seconds=300)
def mark_no_shows() -> int:
    """Confirmed reservations not collected by the end of their slot plus the grace period."""
    from exchange.domain import reservations

    return reservations.mark_no_shows()


@job("prune_feed_log", "interval", hours=1)
def prune_feed_log():
    """Forget feed events older than FEED_RETENTION_DAYS (default 7): resuming from before that means a resync."""
    from exchange.feed import retention

    pruned = retention.prune_feed_log()
    return pruned if any(pruned.values()) else None


@job("report_snapshots", "cron", hour=4, minute=10)
def report_snapshots():
    """Each chamber's reports for the last settled month, once (daily; does nothing when all are taken)."""
    from exchange.reports import snapshots

    return snapshots.take_due_snapshots()
