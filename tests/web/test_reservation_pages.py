"""Reservations in the pages: the producer confirms, declines and hands over on the code; the trader shows the code."""
from decimal import Decimal

from exchange.domain import reservations
from exchange.models import Reservation
from tests.web.conftest import csrf_from


def _reserved(make_user, make_farm, make_lot, make_trader, quantity=5, **lot):
    producer = make_user("producer")
    lot = make_lot(make_farm(producer), **lot)
    trader = make_trader(name="Primeur du Marché")
    reservation = reservations.reserve(lot.id, trader, Decimal(quantity))
    return producer, trader, lot, reservation


def test_the_producer_confirms_then_hands_over_on_the_traders_code(browser, make_user, make_farm, make_lot,
                                                                   make_trader, db):
    producer, trader, lot, reservation = _reserved(make_user, make_farm, make_lot, make_trader, product="Poireaux")
    code = reservation.pickup_code
    browser.sign_in(producer.email)
    page = browser.get("/producer/reservations").text
    assert "À confirmer" in page and "Primeur du Marché" in page and "5\u00a0kg · Poireaux" in page
    assert code not in page  # the producer types what the trader shows
    browser.client.post(f"/producer/reservations/{reservation.id}/confirm", data={"csrf_token": csrf_from(page)})
    assert db.session.get(Reservation, reservation.id, populate_existing=True).status == "confirmed"

    page = browser.get("/producer/reservations")
    assert "Réservation confirmée : Primeur du Marché viendra chercher Poireaux." in page.text
    r = browser.client.post(f"/producer/reservations/{reservation.id}/collect",
                            data={"csrf_token": csrf_from(page.text), "code": "ZZZZZZ"})
    assert "Code de retrait erroné." in browser.client.get(r.headers["Location"]).text
    assert db.session.get(Reservation, reservation.id, populate_existing=True).status == "confirmed"
    r = browser.client.post(f"/producer/reservations/{reservation.id}/collect",
                            data={"csrf_token": csrf_from(page.text), "code": f" {code.lower()} "})
    assert "Retrait enregistré : Poireaux remis à Primeur du Marché." in browser.client.get(r.headers["Location"]).text
    assert db.session.get(Reservation, reservation.id, populate_existing=True).status == "collected"


def test_declining_gives_the_quantity_back_and_needs_the_csrf_token(browser, make_user, make_farm, make_lot,
                                                                    make_trader, db):
    producer, _, lot, reservation = _reserved(make_user, make_farm, make_lot, make_trader, quantity=4)
    browser.sign_in(producer.email)
    assert browser.client.post(f"/producer/reservations/{reservation.id}/decline").status_code == 400
    page = browser.get("/producer/reservations").text
    browser.client.post(f"/producer/reservations/{reservation.id}/decline", data={"csrf_token": csrf_from(page)})
    assert db.session.get(Reservation, reservation.id, populate_existing=True).status == "declined"
    assert "Refusée" in browser.get("/producer/reservations").text


def test_another_producer_cannot_act_on_the_reservation(browser, make_user, make_farm, make_lot, make_trader, db):
    _, _, _, reservation = _reserved(make_user, make_farm, make_lot, make_trader)
    browser.sign_in(make_user("producer").email)
    page = browser.get("/producer/reservations").text
    assert "Aucune réservation pour l'instant" in page
    r = browser.client.post(f"/producer/reservations/{reservation.id}/confirm", data={"csrf_token": csrf_from(page)})
    assert r.status_code == 404 and "Réservation introuvable." in r.text
    assert db.session.get(Reservation, reservation.id, populate_existing=True).status == "pending"


def test_the_trader_sees_the_code_and_its_qr_and_can_cancel(browser, make_user, make_farm, make_lot, make_trader, db):
    _, trader, _, reservation = _reserved(make_user, make_farm, make_lot, make_trader, product="Fraises")
    browser.sign_in(trader.email)
    page = browser.get("/trader/reservations").text
    assert reservation.pickup_code in page
    qr = f"/api/v1/reservations/{reservation.id}/qr.svg"
    assert f'src="{qr}"' in page
    svg = browser.get(qr)
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    fragment = browser.get("/trader/reservations?fragment=1").text
    assert "<html" not in fragment and reservation.pickup_code in fragment
    browser.client.post(f"/trader/reservations/{reservation.id}/cancel", data={"csrf_token": csrf_from(page)})
    assert db.session.get(Reservation, reservation.id, populate_existing=True).status == "cancelled"
    page = browser.get("/trader/reservations").text
    assert "Réservation annulée : Fraises." in page and reservation.pickup_code not in page
