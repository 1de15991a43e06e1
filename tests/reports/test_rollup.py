"""The report rollup follows every reservation service exactly, and `flask check-integrity` notices when it does not."""
import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text, update

from exchange.domain import farms, lots, reservations
from exchange.extensions import db
from exchange.models import Lot, ReportLotTotals, ReportLotTrader, ReportMonthProducer, ReportMonthTrader
from exchange.reports import rollup

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 9, 7, 0, tzinfo=UTC)  # a Monday, 08:00 in Paris
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def scene(make_user, make_farm, make_lot, make_trader):
    producer = make_user("producer")
    farm = make_farm(producer)
    lot = make_lot(farm, quantity=40, price_cents=250)
    # Posted at T0, on offer for three days, on a controlled clock.
    db.session.execute(update(Lot).where(Lot.id == lot.id).values(
        created_at=T0, available_from=T0, available_until=T0 + dt.timedelta(days=3)))
    rollup.rebuild()  # the posting month was written directly: the rollup follows, as after a migration
    db.session.commit()
    return producer, farm, db.session.get(Lot, lot.id), make_trader(), make_user("trader")  # the second has no base


def totals(lot_id):
    return db.session.get(ReportLotTotals, lot_id, populate_existing=True)


def pairs(lot_id):
    return {p.trader_id: p for p in db.session.scalars(
        select(ReportLotTrader).where(ReportLotTrader.lot_id == lot_id).execution_options(populate_existing=True))}


def months():
    """report_month_traders as {(month, department, trader): reservations}."""
    return {(m.month, m.department, m.trader_id): m.reservations for m in db.session.scalars(
        select(ReportMonthTrader).execution_options(populate_existing=True))}


def producers():
    """report_month_producers as {(month, department, unit, producer): (lots, offered)}."""
    return {(p.month, p.department, p.unit, p.producer_id): (p.lots, p.offered) for p in db.session.scalars(
        select(ReportMonthProducer).execution_options(populate_existing=True))}


def test_posting_lots_and_changing_their_stock_moves_the_producers_months(make_user, make_farm, make_lot):
    producer, other = make_user("producer"), make_user("producer")
    farm, second_farm = make_farm(producer), make_farm(producer)
    tomatoes = make_lot(farm, quantity=30)
    make_lot(second_farm, quantity="12.5")
    make_lot(farm, product="Œufs", category="eggs", unit="piece", quantity=60)
    make_lot(make_farm(other), quantity=8)
    month = db.session.get(Lot, tomatoes.id).created_at.astimezone(ZoneInfo("Europe/Paris")).strftime("%Y-%m")
    assert producers() == {(month, "46", "kg", producer.id): (2, Decimal("42.5")),
                           (month, "46", "piece", producer.id): (1, Decimal(60)),
                           (month, "46", "kg", other.id): (1, Decimal(8))}
    lots.step_stock(producer, tomatoes.id, delta=Decimal(-10))
    lots.update_lot(producer, tomatoes.id, {"quantity_available": Decimal("25.25")})
    assert producers()[(month, "46", "kg", producer.id)] == (2, Decimal("37.75"))  # 30 - 10 + 5.25 + 12.5
    farms.update_farm(producer, second_farm.id, {"postcode": "82000"})  # one of the two farms moves
    assert producers() == {(month, "46", "kg", producer.id): (1, Decimal("25.25")),
                           (month, "82", "kg", producer.id): (1, Decimal("12.5")),
                           (month, "46", "piece", producer.id): (1, Decimal(60)),
                           (month, "46", "kg", other.id): (1, Decimal(8))}
    assert rollup.differences() == []


def test_every_transition_moves_the_lot_totals_as_the_reservations_add_up(scene, app):
    producer, _, lot, based, baseless = scene
    collected_far = reservations.reserve(lot.id, based, Decimal(10), now=T0)
    declined = reservations.reserve(lot.id, based, Decimal(5), now=T0)
    collected_near = reservations.reserve(lot.id, baseless, Decimal("4.5"), now=T0)
    cancelled = reservations.reserve(lot.id, based, Decimal(3), now=T0)
    expired = reservations.reserve(lot.id, baseless, Decimal(2), now=T0)
    no_show = reservations.reserve(lot.id, based, Decimal(1), now=T0)
    assert (totals(lot.id).pending, totals(lot.id).quantity_reserved) == (6, Decimal("25.5"))

    for held in (collected_far, collected_near, no_show):
        reservations.confirm(held.id, producer, now=T0 + MINUTE)
    for held in (collected_far, collected_near):
        reservations.collect(held.id, producer, held.pickup_code, now=T0 + 2 * MINUTE)
    reservations.decline(declined.id, producer, now=T0 + MINUTE)
    reservations.cancel(cancelled.id, based, now=T0 + MINUTE)
    assert reservations.expire_holds(T0 + dt.timedelta(hours=1)) == 1
    closing = reservations.reserve(lot.id, baseless, Decimal(1), now=T0 + dt.timedelta(hours=2))
    assert reservations.close_expired_lots(T0 + dt.timedelta(days=3)) == 1  # its pending hold expires with it
    assert reservations.mark_no_shows(T0 + dt.timedelta(days=4)) == 1
    assert {r.id: reservations._load(r.id).status for r in (expired, closing, no_show)} == {
        expired.id: "expired", closing.id: "expired", no_show.id: "no_show"}

    row = totals(lot.id)
    assert {state: getattr(row, state) for state in rollup.STATES} == {
        "pending": 0, "confirmed": 0, "collected": 2, "declined": 1, "cancelled": 1, "expired": 2, "no_show": 1}
    assert row.quantity_reserved == row.quantity_collected == Decimal("14.5")
    assert row.value_millicents == 14_500 * 250  # 36.25 €, in thousandths of a cent
    far = reservations._load(collected_far.id).distance_km
    assert far is not None and reservations._load(collected_near.id).distance_km is None
    assert (row.trips, row.distance_m, row.quantity_travelled) == (1, round(far * 1000), Decimal(10))
    assert {trader: pair.reservations for trader, pair in pairs(lot.id).items()} == {based.id: 4, baseless.id: 3}
    assert {(p.month, p.department, p.commune, p.category, p.product) for p in pairs(lot.id).values()} == {
        ("2026-03", "46", "46042", "vegetables", "tomates")}
    assert months() == {("2026-03", "46", based.id): 4, ("2026-03", "46", baseless.id): 3}
    assert rollup.differences() == []


def test_a_refused_reservation_leaves_the_rollup_alone(scene):
    _, _, lot, based, _ = scene
    reservations.reserve(lot.id, based, Decimal(40), now=T0)
    with pytest.raises(reservations.Conflict):
        reservations.reserve(lot.id, based, Decimal(1), now=T0)
    assert (totals(lot.id).pending, pairs(lot.id)[based.id].reservations) == (1, 1)
    assert months() == {("2026-03", "46", based.id): 1}
    assert rollup.differences() == []


def test_renaming_a_lot_or_moving_its_farm_moves_its_pairs_to_the_new_keys(make_user, make_farm, make_lot,
                                                                            make_trader):
    producer = make_user("producer")
    farm = make_farm(producer)
    lot = make_lot(farm)
    trader = make_trader()
    staying = make_lot(make_farm(make_user("producer")), product="Noix")  # the trader's other farm stays in the Lot
    reservations.reserve(lot.id, trader, Decimal(1))
    reservations.reserve(lot.id, trader, Decimal(1))
    reservations.reserve(staying.id, trader, Decimal(1))
    month = pairs(lot.id)[trader.id].month
    assert months() == {(month, "46", trader.id): 3}
    lots.update_lot(producer, lot.id, {"product": " Poivrons ", "category": "fruits"})
    farms.update_farm(producer, farm.id, {"postcode": "82000"})
    pair = pairs(lot.id)[trader.id]
    assert (pair.product, pair.category, pair.department) == ("poivrons", "fruits", "82")
    assert pair.commune == db.session.get(type(farm), farm.id).insee != "46042"
    assert months() == {(month, "46", trader.id): 1, (month, "82", trader.id): 2}
    assert rollup.differences() == []


def test_check_integrity_fails_when_the_rollup_and_the_reservations_differ(scene, app):
    _, _, lot, based, baseless = scene
    reservations.reserve(lot.id, based, Decimal(5), now=T0)
    reservations.reserve(lot.id, baseless, Decimal(5), now=T0)
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["check-integrity"])
    assert ok.exit_code == 0 and "report rollup" in ok.output

    db.session.execute(text("UPDATE report_lot_totals SET collected = collected + 1 WHERE lot_id = :id"),
                       {"id": lot.id})
    db.session.commit()
    assert rollup.differences() == [f"lot {lot.id}: rollup totals missing or wrong",
                                    f"lot {lot.id}: rollup totals stale or extra"]
    bad = runner.invoke(args=["check-integrity"])
    assert bad.exit_code == 1 and "report rollup differs" in bad.output
    assert f"lot {lot.id}: rollup totals" in bad.output

    def corrupted(statement: str, params: dict, named: list[str]) -> None:
        """From a rebuilt rollup, one change behind the services' back: named by differences(), and fatal."""
        rollup.rebuild()
        db.session.execute(text(statement), params)
        db.session.commit()
        assert rollup.differences() == named
        assert runner.invoke(args=["check-integrity"]).exit_code == 1

    corrupted("DELETE FROM report_lot_traders WHERE trader_id = :id", {"id": baseless.id},
              [f"lot {lot.id}: rollup traders missing or wrong"])
    corrupted("UPDATE report_month_traders SET reservations = 7 WHERE trader_id = :id", {"id": based.id},
              [f"month 2026-03, department 46, trader {based.id}: rollup month traders missing or wrong",
               f"month 2026-03, department 46, trader {based.id}: rollup month traders stale or extra"])
    producer = db.session.get(type(lot.farm), lot.farm_id).owner_id
    corrupted("UPDATE report_month_producers SET offered = offered + 1 WHERE producer_id = :id", {"id": producer},
              [f"month 2026-03, department 46, kg, producer {producer}: rollup month producers missing or wrong",
               f"month 2026-03, department 46, kg, producer {producer}: rollup month producers stale or extra"])
    rollup.rebuild()
    db.session.commit()
    assert runner.invoke(args=["check-integrity"]).exit_code == 0
