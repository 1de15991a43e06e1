"""The exchange end to end in two Chromium windows, live, with no reload:
a producer posts a lot and the trader's open board shows it; the trader reserves; the producer sees
the reservation arrive and confirms; the trader sees the confirmation."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.browser.conftest import DESKTOP, PHONE, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LIVE = "[data-conn-state=live]"


def stays_loaded(page):
    """Mark the page: if it reloads or navigates, the mark is gone."""
    page.evaluate("window.__carreauStayed = true")
    return lambda: page.evaluate("window.__carreauStayed === true")


def test_a_lot_posted_reaches_the_open_board_and_the_reservation_goes_back_and_forth_live(people):
    producer = people("producer", name="Les Jardins de Pradines")
    producer.api("POST", "/farms", json={"name": "Les Jardins de Pradines", "postcode": "46090", "commune": "Pradines",
                                         "pickup_hours": {"wed": ["16:00-19:00"], "sat": ["08:00-12:00"]},
                                         "pickup_instructions": "Hangar vert au fond de la cour."})
    trader = people("trader", name="Primeur du Marché", base={"postcode": "46000"})
    trader.api("POST", "/watches", json={"radius_km": 30, "name": "Autour du dépôt", "categories": ["vegetables"]})

    board = trader.page(PHONE)
    board.goto("/trader/board")
    board.locator(LIVE).wait_for()
    board_stayed = stays_loaded(board)
    assert board.locator("[data-board-empty]").is_visible()

    # The producer posts a lot from the phone form.
    phone = producer.page(PHONE)
    phone.goto("/producer/lots/new")
    phone.get_by_label("Produit").fill("Asperges vertes")
    phone.get_by_label("Catégorie").select_option("vegetables")
    phone.get_by_label("Quantité").fill("40")
    phone.get_by_label("Prix HT").fill("6,50")
    phone.get_by_role("button", name="Publier le lot").click()
    phone.wait_for_url(re.compile(r"/producer/lots#lot-\d+"))

    card = board.locator(".board-card", has_text="Asperges vertes")
    card.wait_for(timeout=10000)
    assert board_stayed(), "the board reloaded instead of receiving the lot live"
    assert card.locator(".badge--new").inner_text() == "Nouveau"
    assert "6,50\u00a0€\u00a0/\u00a0kg" in card.inner_text() and "40\u00a0kg en stock" in card.inner_text()
    assert re.search(r"\d+(,\d)?\u00a0km", card.inner_text())
    screenshot(board, "live-board-new-lot")

    # The producer watches the reservations inbox; the trader reserves 12 kg in one tap.
    phone.goto("/producer/reservations")
    phone.locator(LIVE).wait_for()
    inbox_stayed = stays_loaded(phone)
    card.get_by_label("Quantité").fill("12")
    card.get_by_role("button", name="Réserver").click()
    result = card.locator(".reserve__result--ok")
    result.wait_for()
    code = re.search(r"Code de retrait ([A-Z0-9]{6})", result.inner_text()).group(1)
    card.get_by_text("28\u00a0kg en stock").wait_for()  # the lot's own change came back over the feed

    pending = phone.locator(".res-card--pending", has_text="Asperges vertes")
    pending.wait_for(timeout=10000)
    assert inbox_stayed(), "the inbox reloaded instead of receiving the reservation live"
    assert "12\u00a0kg · Asperges vertes" in pending.inner_text() and "Primeur du Marché" in pending.inner_text()
    assert code not in phone.content()  # the producer only ever types what the trader shows
    screenshot(phone, "live-inbox-new-reservation")

    # The trader follows the reservation; the producer confirms; the trader sees it at once.
    result.get_by_role("link", name="Voir mes réservations").click()
    board.wait_for_url("**/trader/reservations*")
    board.locator(LIVE).wait_for()
    mine_stayed = stays_loaded(board)
    reservation = board.locator(".res-card", has_text="Asperges vertes")
    assert reservation.locator(".pickup__value").inner_text() == code
    assert reservation.locator(".pill").inner_text() == "En attente"

    pending.get_by_role("button", name="Confirmer").click()
    phone.get_by_text("Réservation confirmée : Primeur du Marché viendra chercher Asperges vertes.").wait_for()

    reservation.locator(".pill", has_text="Confirmée").wait_for(timeout=10000)
    assert mine_stayed(), "the trader's page reloaded instead of receiving the confirmation live"
    screenshot(board, "live-trader-confirmed")

    # Handing over at the farm: the producer types the code the trader shows.
    confirmed = phone.locator(".res-card", has_text="Asperges vertes")
    confirmed.get_by_label("Code de retrait montré par l'acheteur").fill(code.lower())
    confirmed.get_by_role("button", name="Valider le retrait").click()
    phone.get_by_text("Retrait enregistré : Asperges vertes remis à Primeur du Marché.").wait_for()
    board.locator(".pill", has_text="Retirée à la ferme").wait_for(timeout=10000)


def test_the_board_resumes_after_a_lost_connection_without_missing_a_lot(people):
    # Around Bordeaux: away from the other tests' lots around Cahors, which share this server.
    producer = people("producer")
    farm = producer.api("POST", "/farms", json={"name": "Ferme", "postcode": "33000"})
    trader = people("trader", base={"postcode": "33000"})
    trader.api("POST", "/watches", json={"radius_km": 20})
    board = trader.page(DESKTOP)
    board.goto("/trader/board")
    board.locator(LIVE).wait_for()
    stayed = stays_loaded(board)

    board.context.set_offline(True)
    board.locator("[data-conn-state=offline]").wait_for(timeout=20000)
    until = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).isoformat()
    for product in ("Radis roses", "Navets"):
        producer.api("POST", "/lots", json={"farm_id": farm["id"], "product": product, "category": "vegetables",
                                            "unit": "bunch", "quantity": 20, "price_cents": 120,
                                            "available_until": until})
    board.context.set_offline(False)
    board.locator(LIVE).wait_for(timeout=30000)
    for product in ("Radis roses", "Navets"):
        board.locator(".board-card", has_text=product).wait_for(timeout=10000)
    assert stayed()
    assert board.locator("[data-board-count]").inner_text() == "2 lots en vente"
