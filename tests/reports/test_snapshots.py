"""Monthly snapshots: taken once per chamber and settled month, listed and downloaded by their chamber."""
import datetime as dt

from exchange import jobs
from exchange.models import ReportSnapshot
from exchange.reports import snapshots

UTC = dt.timezone.utc
API = "/api/v1/reports/snapshots"


def test_a_month_is_due_a_week_after_it_ends_in_paris():
    # 7 April 23:00 in Paris: 31 March minus... the week after March is not over; February is due.
    assert snapshots.due_month(dt.datetime(2025, 4, 7, 21, 0, tzinfo=UTC)) == "2025-02"
    # 8 April 00:30 in Paris (22:30 UTC the day before): March is settled.
    assert snapshots.due_month(dt.datetime(2025, 4, 7, 22, 30, tzinfo=UTC)) == "2025-03"
    assert snapshots.due_month(dt.datetime(2025, 1, 20, 12, tzinfo=UTC)) == "2024-12"


def test_the_job_is_registered_daily():
    spec = jobs.JOBS["report_snapshots"]
    assert spec.trigger == "cron" and spec.options == {"hour": 4, "minute": 10}


def test_snapshots_are_taken_once_and_hold_the_month(exchange_data, make_user, db):
    chamber = make_user("chamber", territory=["46", "82"])
    other = make_user("chamber", territory=["12"])
    make_user("chamber", territory=["46"]).active = False
    db.session.commit()
    now = dt.datetime(2025, 3, 10, 12, tzinfo=UTC)  # February is due
    assert snapshots.take_due_snapshots(now) == {"month": "2025-02", "taken": 2}
    assert snapshots.take_due_snapshots(now) == {}  # idempotent: nothing more to take
    assert jobs.report_snapshots() == {"month": snapshots.due_month(), "taken": 2}  # today's due month, once
    taken = db.session.scalars(db.select(ReportSnapshot).where(ReportSnapshot.month == "2025-02")
                               .order_by(ReportSnapshot.chamber_id)).all()
    assert [(s.chamber_id, s.territory, s.min_producers) for s in taken] == [
        (chamber.id, ["46", "82"], 3), (other.id, ["12"], 3)]
    february = taken[0].data
    assert set(february) == {"category", "department", "commune", "product", "prices"}
    # February in 46 and 82: L4, L5, L6, L11, L12 by P1, P2, P4; 60×30 + 45×32 + 20×150
    assert february["category"]["total"]["lots_posted"] == 5
    assert february["category"]["total"]["value_collected_cents"] == 6240
    assert (february["category"]["from"], february["category"]["to"]) == ("2025-02-01", "2025-02-28")
    assert snapshots.take_snapshot(chamber, "2025-02").id == taken[0].id


def test_snapshots_over_the_api(client, exchange_data, login_as, db):
    chamber, headers = login_as("chamber", territory=["46", "82"])
    other, other_headers = login_as("chamber", territory=["12"])
    mine = snapshots.take_snapshot(chamber, "2025-01")
    snapshots.take_snapshot(chamber, "2025-02")
    theirs = snapshots.take_snapshot(other, "2025-02")

    r = client.get(API, headers=headers)
    assert r.status_code == 200 and [s["month"] for s in r.json] == ["2025-02", "2025-01"]
    assert "data" not in r.json[0]
    r = client.get(f"{API}/{mine.id}", headers=headers)
    assert r.status_code == 200 and r.json["data"]["category"]["total"]["value_collected_cents"] == 22525

    assert client.get(f"{API}/{theirs.id}", headers=headers).status_code == 403
    assert client.get(f"{API}/999999", headers=headers).status_code == 404
    assert client.get(API, headers=login_as("trader")[1]).status_code == 403
    assert client.get(API).status_code == 401
    admin = login_as("admin")[1]
    assert len(client.get(API, headers=admin).json) == 3

    r = client.get(f"{API}/{mine.id}", query_string={"format": "csv", "section": "department", "sep": ";"},
                   headers=headers)
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert f"carreau-2025-01-chamber{chamber.id}-department.csv" in r.headers["Content-Disposition"]
    text = r.get_data(as_text=True)
    assert text.startswith("\ufeffDépartement (department);Secret statistique (masked);")
    assert text.splitlines()[-1].startswith("Total;0;5;4;3;225,25;")  # January: 5 lots by 4 producers
    r = client.get(f"{API}/{mine.id}", query_string={"format": "csv", "section": "prices"}, headers=headers)
    assert r.get_data(as_text=True).startswith("\ufeffProduit (product),")
