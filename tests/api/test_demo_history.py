"""The demo's twelve months of past trade: every final state, in season, consistent stock, the same every time."""
import datetime as dt
from collections import Counter

from sqlalchemy import func, select

from exchange.demo.history import add_history
from exchange.domain.integrity import check_integrity
from exchange.reports import rollup
from exchange.domain.pickup import is_open
from exchange.models import Lot, ReportLotTotals, Reservation, ReservationTransition, StockMovement

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc)


def test_history_has_every_final_state_in_season_and_adds_up(make_user, make_farm, make_trader, db):
    farms = [make_farm(make_user("producer"), name="Truffière de Lalbenque", postcode="46230", commune="Lalbenque",
                       pickup_hours={"sat": ["08:00-12:00"], "wed": ["14:00-18:00"]}),
             make_farm(make_user("producer"), name="Les Jardins de Pradines", postcode="46090", commune="Pradines"),
             make_farm(make_user("producer"), name="Bergerie du Bel-Air", postcode="46310",
                       commune="Saint-Germain-du-Bel-Air",
                       pickup_hours={"mon": ["07:00-12:00"], "fri": ["07:00-12:00", "14:00-18:00"]})]
    traders = [make_trader(), make_trader(base={"postcode": "46100", "commune": "Figeac"})]
    made = add_history(farms, traders, now=NOW)

    assert made["lots"] > 150 and made["reservations"] > 300
    assert set(made["by_status"]) == {"collected", "cancelled", "declined", "expired", "no_show"}
    assert made["by_status"]["collected"] > made["reservations"] / 2
    lots = db.session.scalars(select(Lot)).all()
    assert all(lot.available_until < NOW and lot.status in ("expired", "withdrawn") for lot in lots)
    assert min(lot.created_at for lot in lots) < NOW - dt.timedelta(days=330)
    truffles = [lot for lot in lots if lot.product.startswith("Truffe")]
    assert truffles and {lot.created_at.month for lot in truffles} <= {12, 1, 2}
    # Lamb for Easter and winter, never in high summer.
    assert not [lot for lot in lots if lot.category == "meat" and lot.created_at.month in (7, 8, 9)]

    reservations = db.session.scalars(select(Reservation)).all()
    for res in reservations:
        lot = db.session.get(Lot, res.lot_id)
        assert lot.available_from <= res.created_at < lot.available_until
        assert res.price_cents == lot.price_cents and res.distance_km is not None
        if res.pickup_at is not None:
            assert is_open(res.pickup_at, lot.farm.pickup_hours)
    steps = Counter(db.session.execute(select(ReservationTransition.from_status, ReservationTransition.to_status)))
    assert steps[(None, "pending")] == len(reservations)
    assert steps[("confirmed", "collected")] == made["by_status"]["collected"]
    assert steps[("confirmed", "no_show")] == made["by_status"]["no_show"]
    assert db.session.scalar(select(func.count()).select_from(StockMovement)
                             .where(StockMovement.reason == "reserved")) == len(reservations)
    assert check_integrity() == []
    # Written in bulk, yet the report rollup counts every reservation as the services would have.
    assert rollup.differences() == []
    assert db.session.scalar(select(func.sum(ReportLotTotals.collected))) == made["by_status"]["collected"]

    # Deterministic: the same farms, traders and clock give the same history again.
    assert add_history(farms, traders, now=NOW) == made
