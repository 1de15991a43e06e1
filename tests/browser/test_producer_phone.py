"""The producer's phone in Chromium: stock steps survive a dead network and lost answers, counted exactly once."""
from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import farm_and_lot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _stock(producer, lot_id):
    return producer.api("GET", f"/lots/{lot_id}")["quantity_available"]


def test_steps_tapped_offline_are_kept_shown_as_pending_and_sent_once_back_online(people):
    producer = people("producer")
    _, lot = farm_and_lot(producer, quantity=30)
    page = producer.page()
    page.goto("/producer/lots")
    card = page.locator(f"#lot-{lot['id']}")

    page.context.set_offline(True)
    card.get_by_role("button", name="Retirer 1").click()
    card.get_by_role("button", name="Retirer 1").click()
    card.get_by_role("button", name="Ajouter 5").click()
    assert card.locator("[data-available-text]").inner_text() == "33\u00a0kg"  # shown at once
    # "Envoi…" while the browser tries, then the count once it knows the network is gone.
    expect(card.locator("[data-pending]")).to_contain_text("3 modifications en attente d'envoi")
    expect(page.locator("[data-sync-banner]")).to_be_visible()
    queued = json.loads(page.evaluate(f"localStorage.getItem('carreau.stock-queue.v1.{producer.user['id']}')"))
    assert [entry.get("delta") for entry in queued] == [-1, -1, 5]
    assert _stock(producer, lot["id"]) == 30  # nothing reached the server

    # The phone is put away before the network returns: the steps wait in localStorage.
    page.close()
    page.context.set_offline(False)
    page = page.context.new_page()
    page.goto("/producer/lots")
    card = page.locator(f"#lot-{lot['id']}")
    card.locator("[data-pending]").wait_for(state="hidden")
    assert _stock(producer, lot["id"]) == 33
    assert card.locator("[data-available-text]").inner_text() == "33\u00a0kg"
    assert page.locator("[data-sync-banner]").is_hidden()


def test_a_step_whose_answer_is_lost_is_retried_and_still_counts_once(people):
    producer = people("producer")
    _, lot = farm_and_lot(producer, quantity=10)
    page = producer.page()
    page.goto("/producer/lots")
    lost = []

    def lose_the_first_answer(route):
        if not lost:
            route.fetch()  # the server applies the step...
            lost.append(route.request.headers.get("idempotency-key"))
            route.abort()  # ...but the phone never hears back
        else:
            route.continue_()

    page.route("**/api/v1/lots/*/stock", lose_the_first_answer)
    page.locator(f"#lot-{lot['id']}").get_by_role("button", name="Retirer 5").click()
    page.locator(f"#lot-{lot['id']} [data-pending]").wait_for(state="hidden", timeout=15000)
    assert lost and _stock(producer, lot["id"]) == 5


def test_sold_out_in_one_tap_and_a_refused_step_is_explained(people):
    producer = people("producer")
    _, lot = farm_and_lot(producer, quantity=8)
    _, other = farm_and_lot(producer, product="Courgettes", quantity=4)
    page = producer.page()
    page.goto("/producer/lots")
    card = page.locator(f"#lot-{lot['id']}")
    card.get_by_role("button", name="Épuisé").click()
    card.locator(".pill", has_text="Épuisé").wait_for()
    assert _stock(producer, lot["id"]) == 0

    producer.api("DELETE", f"/lots/{other['id']}")  # withdrawn from another device meanwhile
    other_card = page.locator(f"#lot-{other['id']}")
    other_card.get_by_role("button", name="Ajouter 1").click()
    error = other_card.locator("[data-error]")
    error.wait_for()
    assert "Modification refusée" in error.inner_text()
    assert other_card.locator("[data-pending]").is_hidden()


def test_a_new_lot_from_memory_product_quantity_publish(people):
    producer = people("producer")
    farm, _ = farm_and_lot(producer, product="Courgettes", unit="kg", price_cents=190, labels=["organic"])
    page = producer.page()
    page.goto("/producer/lots/new")
    page.get_by_label("Produit").fill("courgettes")
    hint = page.locator("[data-memory-hint]")
    hint.wait_for()
    assert "1,90\u00a0€\u00a0/\u00a0kg" in hint.inner_text()
    assert page.get_by_label("Prix HT").input_value() == "1,90"
    page.get_by_label("Quantité").fill("25")
    page.get_by_role("button", name="Publier le lot").click()
    page.wait_for_url("**/producer/lots#lot-*")
    posted = producer.api("GET", "/lots", params={"farm_id": farm["id"], "sort": "recent"})[0]
    assert (posted["product"], posted["quantity"], posted["price_cents"], posted["labels"]) == \
        ("courgettes", 25, 190, ["organic"])


def test_farm_set_up_with_postcode_autocomplete_and_use_my_location(people, chromium, server):
    producer = people("producer")
    page = producer.page()
    page.goto("/producer/farms/new")
    page.get_by_label("Code postal").fill("46090")
    page.locator("[data-location-status]").filter(has_text="communes").wait_for()
    options = page.locator("#commune-options option").evaluate_all("nodes => nodes.map(n => n.value)")
    assert "Pradines" in options and "Mercuès" in options

    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation({"latitude": 44.4475, "longitude": 1.4419, "accuracy": 25})
    page.get_by_role("button", name="Utiliser ma position").click()
    page.locator("[data-location-status]").filter(has_text="Cahors").wait_for()
    assert page.get_by_label("Code postal").input_value() == "46000"
    assert page.get_by_label("Commune").input_value() == "Cahors"
    page.get_by_label("Nom de la ferme").fill("Ferme GPS")
    page.get_by_role("button", name="Enregistrer la ferme").click()
    page.wait_for_url("**/producer/lots/new")
    farms = producer.api("GET", "/farms")
    assert [(f["commune"], f["lat"], f["lon"]) for f in farms] == [("Cahors", 44.4475, 1.4419)]
