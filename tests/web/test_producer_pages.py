"""The producer's pages: farm set-up, a new lot from French input, one-tap stock steps without scripts."""
import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

from exchange.models import Farm, Lot, StockMovement
from exchange.models.types import utcnow
from tests.web.conftest import csrf_from, errors_in

PARIS = ZoneInfo("Europe/Paris")


def test_farm_set_up_from_a_shared_postcode_asks_for_the_commune_in_french(browser, make_user, db):
    producer = make_user("producer")
    browser.sign_in(producer.email)
    farm = {"name": "Les Jardins", "postcode": "46090", "commune": "", "hours_sat": "08:00-11:00",
            "pickup_instructions": "Sonnez au portail"}
    r = browser.submit("/producer/farms/new", farm)
    assert r.status_code == 422
    assert "Plusieurs communes partagent ce code postal : choisissez la vôtre." in errors_in(r.text)
    assert '<option value="Pradines">' in r.text  # the communes to choose from

    r = browser.submit("/producer/farms/new", farm | {"commune": "Pradines"})
    assert r.status_code == 302 and r.headers["Location"] == "/producer/lots/new"
    saved = db.session.scalar(db.select(Farm).where(Farm.owner_id == producer.id))
    assert (saved.commune, saved.insee, saved.department) == ("Pradines", "46224", "46")
    assert saved.pickup_hours == {"sat": ["08:00-11:00"]}


def test_use_my_location_places_the_farm_at_the_point_found(browser, make_user, db):
    producer = make_user("producer")
    browser.sign_in(producer.email)
    r = browser.submit("/producer/farms/new", {"name": "GPS", "postcode": "46000", "commune": "Cahors",
                                               "lat": "44.46012", "lon": "1.43007"})
    assert r.status_code == 302
    saved = db.session.scalar(db.select(Farm).where(Farm.owner_id == producer.id))
    assert (saved.lat, saved.lon, saved.commune) == (44.46012, 1.43007, "Cahors")


def test_bad_pickup_hours_and_siret_are_explained(browser, make_user):
    browser.sign_in(make_user("producer").email)
    r = browser.submit("/producer/farms/new", {"name": "X", "postcode": "46000", "hours_mon": "8h-12h"})
    assert r.status_code == 422 and any("Lundi" in m for m in errors_in(r.text))
    r = browser.submit("/producer/farms/new", {"name": "X", "postcode": "46000", "siret": "12345678901234"})
    assert r.status_code == 422 and "Ce numéro SIRET n'est pas valide (14 chiffres, clé de contrôle)." in errors_in(r.text)


def test_a_new_lot_from_french_numbers_until_tomorrow_evening_paris_time(browser, make_user, make_farm, db):
    producer = make_user("producer")
    farm = make_farm(producer)
    browser.sign_in(producer.email)
    r = browser.submit("/producer/lots/new", {"farm_id": farm.id, "product": " Tomates cœur de bœuf ",
                                              "category": "vegetables", "unit": "kg", "quantity": "1 234,5",
                                              "price": "2,80", "until": "tomorrow", "labels": ["organic", "hve"]})
    assert r.status_code == 302, errors_in(r.text)
    lot = db.session.scalar(db.select(Lot))
    assert (lot.product, lot.quantity_available, lot.price_cents) == ("Tomates cœur de bœuf", Decimal("1234.5"), 280)
    assert lot.labels == ["hve", "organic"]
    until = lot.available_until.astimezone(PARIS)
    assert (until.date() - utcnow().astimezone(PARIS).date()).days == 1 and until.time() == dt.time(20, 0)


def test_lot_form_errors_are_in_french(browser, make_user, make_farm):
    producer = make_user("producer")
    farm = make_farm(producer)
    browser.sign_in(producer.email)
    yesterday = (utcnow().astimezone(PARIS) - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    r = browser.submit("/producer/lots/new", {"farm_id": farm.id, "product": "", "category": "vegetables",
                                              "unit": "kg", "quantity": "douze", "price": "-1", "until": "custom",
                                              "until_at": yesterday})
    assert r.status_code == 422
    messages = errors_in(r.text)
    assert "Ce champ est obligatoire." in messages
    assert "Indiquez un nombre, par exemple 12,5." in messages
    assert "Indiquez un prix entre 0 et 100 000 €." in messages
    r = browser.submit("/producer/lots/new", {"farm_id": farm.id, "product": "Radis", "category": "vegetables",
                                              "unit": "bunch", "quantity": "10", "price": "1", "until": "custom",
                                              "until_at": yesterday})
    assert r.status_code == 422 and "Cette fin de disponibilité est déjà passée." in errors_in(r.text)


def test_the_new_lot_form_remembers_the_last_price_and_repeats_a_lot(browser, make_user, make_farm, make_lot):
    producer = make_user("producer")
    farm = make_farm(producer)
    make_lot(farm, product="Courgettes", price_cents=190, unit="kg", quantity=40)
    make_lot(farm, product="Courgettes", price_cents=210, unit="kg", quantity=25)
    browser.sign_in(producer.email)
    page = browser.get("/producer/lots/new").text
    assert '"courgettes": {' in page and '"price_cents": 210' in page and '"price_cents": 190' not in page
    assert '<option value="Courgettes">' in page and '<option value="Tomates cerises">' in page  # own, then common
    other = make_lot(make_farm(make_user("producer")), product="Pas à moi")
    assert browser.get(f"/producer/lots/new?repeat={other.id}").status_code == 403
    lot = make_lot(farm, product="Poireaux", unit="bunch", price_cents=150, quantity=12, labels=["organic"])
    page = browser.get(f"/producer/lots/new?repeat={lot.id}").text
    assert 'value="Poireaux"' in page and 'value="1,50"' in page and 'value="12"' in page
    organic = re.search(r'<input[^>]*value="organic"[^>]*>', page).group(0)
    hve = re.search(r'<input[^>]*value="hve"[^>]*>', page).group(0)
    assert "checked" in organic and "checked" not in hve


def test_stock_steps_without_scripts_count_once_even_if_sent_twice(browser, make_user, make_farm, make_lot, db):
    producer = make_user("producer")
    lot = make_lot(make_farm(producer), quantity=10)
    browser.sign_in(producer.email)
    page = browser.get("/producer/lots").text
    key = page.split('name="key" value="')[1].split('"')[0]
    form = {"csrf_token": csrf_from(page), "key": key, "delta": "-5"}
    assert browser.client.post(f"/producer/lots/{lot.id}/stock", data=form).status_code == 302
    assert browser.client.post(f"/producer/lots/{lot.id}/stock", data=form).status_code == 302  # double tap
    assert db.session.get(Lot, lot.id, populate_existing=True).quantity_available == Decimal(5)
    form = {"csrf_token": csrf_from(page), "key": "other", "sold_out": "1"}
    browser.client.post(f"/producer/lots/{lot.id}/stock", data=form)
    lot = db.session.get(Lot, lot.id, populate_existing=True)
    assert (lot.quantity_available, lot.status) == (Decimal(0), "sold_out")
    assert "Épuisé" in browser.get("/producer/lots").text


def test_my_lots_shows_french_money_and_quantities(browser, make_user, make_farm, make_lot):
    producer = make_user("producer")
    make_lot(make_farm(producer), product="Miel de châtaignier", unit="kg", quantity=1234.5, price_cents=123450)
    browser.sign_in(producer.email)
    page = browser.get("/producer/lots").text
    assert "1\u202f234,50\u00a0€\u00a0/\u00a0kg" in page
    assert "1\u202f234,5\u00a0kg" in page


def test_my_lots_shows_what_is_on_sale_and_what_reservations_hold(browser, make_user, make_farm, make_lot):
    from exchange.domain import reservations

    producer = make_user("producer")
    lot = make_lot(make_farm(producer), unit="bunch", quantity=40)
    browser.sign_in(producer.email)
    page = browser.get("/producer/lots").text
    assert "40\u00a0bottes</span>" in page and "en réservation" not in page
    reservations.reserve(lot.id, make_user("trader"), Decimal(12))
    page = browser.get("/producer/lots").text
    assert "28\u00a0bottes</span>" in page and "12\u00a0bottes en réservation" in page


def test_a_producer_without_a_farm_is_sent_to_set_it_up(browser, make_user):
    browser.sign_in(make_user("producer").email)
    assert browser.get("/producer/lots").headers["Location"] == "/producer/farms/new"
    assert browser.get("/producer/lots/new").headers["Location"] == "/producer/farms/new"


def test_withdrawing_a_lot_keeps_it_in_the_week_list(browser, make_user, make_farm, make_lot, db):
    producer = make_user("producer")
    lot = make_lot(make_farm(producer), product="Fraises")
    browser.sign_in(producer.email)
    page = browser.get("/producer/lots").text
    r = browser.client.post(f"/producer/lots/{lot.id}/withdraw", data={"csrf_token": csrf_from(page)})
    assert r.status_code == 302
    assert db.session.get(Lot, lot.id, populate_existing=True).status == "withdrawn"
    page = browser.get("/producer/lots").text
    assert "Aucun lot en vente" in page and "Fraises" in page and "Retiré" in page
    assert db.session.scalar(db.select(db.func.count()).select_from(StockMovement)) == 1
