"""Every main page in Chromium at a phone's 390×844 and a laptop's 1280×800 (and a small phone's 360 px): screenshots
for a person to look at
(tests/screenshots/, ignored by git), and the checks a person would make: nothing wider than the screen,
touch targets of at least 44 px, no script error and no CSP violation in the console."""
from __future__ import annotations

import pytest

from tests.browser.conftest import DESKTOP, PHONE, SMALL_PHONE, farm_and_lot, screenshot
from tests.live_server import LiveServer, prepare_database

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """This module's server holds the demo region (a year of history around Cahors): pages as people see them."""
    url = f"sqlite:///{tmp_path_factory.mktemp('look') / 'carreau.sqlite3'}"
    prepare_database(url)
    running = LiveServer(url)
    running.cli("seed-demo")
    with running:
        yield running

# Interactive things a thumb must hit: 44 px high at least (WCAG 2.5.5 target size).
TARGETS = ("main a.btn, main button:not(.link-button), main input:not([type=hidden]):not([type=checkbox])"
           ":not([type=radio]), main select, main summary, main .chip span, main label.check, .tabbar a, "
           ".site-header button, .site-header summary, .site-header a.btn")


VIEWPORTS = pytest.mark.parametrize("viewport", [SMALL_PHONE, PHONE, DESKTOP], ids=["small-phone", "phone", "desktop"])


def look(page, path: str, name: str) -> None:
    page.goto(path)
    page.wait_for_load_state("networkidle")
    screenshot(page, name)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{path} is {width}px wide on a {page.viewport_size['width']}px screen"
    small = page.eval_on_selector_all(TARGETS, """nodes => nodes
        .filter(n => n.offsetParent !== null)
        .map(n => [n.outerHTML.slice(0, 80), n.getBoundingClientRect().height])
        .filter(([_, h]) => h < 43.5)""")
    assert not small, f"{path}: touch targets under 44 px: {small}"


@VIEWPORTS
def test_public_pages(people, viewport):
    visitor = people("trader")
    page = visitor.page(viewport, sign_in=False)
    for path, name in [("/", "home"), ("/login", "login"), ("/signup?role=producer", "signup"),
                       ("/no-such-page", "not-found")]:
        look(page, path, name)


@VIEWPORTS
def test_producer_pages(people, viewport):
    producer = people("producer", name="Les Jardins de Pradines")
    farm, lot = farm_and_lot(producer, product="Tomates anciennes", quantity=42, price_cents=320, labels=["organic"])
    farm_and_lot(producer, product="Courgettes", quantity=15, price_cents=180)
    producer.api("POST", f"/lots/{lot['id']}/stock", json={"delta": -12})
    page = producer.page(viewport)
    for path, name in [("/producer/lots", "producer-lots"), ("/producer/lots/new", "producer-new-lot"),
                       (f"/producer/lots/new?repeat={lot['id']}", "producer-repeat-lot"),
                       (f"/producer/farms/{farm['id']}", "producer-farm"), ("/account", "producer-account")]:
        look(page, path, name)
    # The same phone in English, through the switch in the header: the page and its script speak English.
    page.goto("/producer/lots")
    page.get_by_role("button", name="EN").click()
    page.wait_for_url("**/producer/lots")
    look(page, "/producer/lots", "producer-lots-en")
    text = page.locator("main").inner_text()
    assert page.locator("html").get_attribute("lang") == "en"
    assert "My lots" in text and "on sale" in text and "Sold out" in text and "€3.20" in text, text
    assert not any(french in text for french in ("Mes lots", "en vente", "jusqu'au", "Épuisé")), text


@VIEWPORTS
def test_reservation_pages(people, viewport):
    producer = people("producer", name="Ferme des Cèdres")
    _, lot = farm_and_lot(producer, product="Pommes de terre", quantity=200, price_cents=95)
    _, eggs = farm_and_lot(producer, product="Œufs plein air", unit="piece", quantity=360, price_cents=28)
    trader = people("trader", name="Restaurant Le Lamparo", phone="05 65 35 25 93", base={"postcode": "46000"})
    trader.api("POST", f"/lots/{lot['id']}/reservations", json={"quantity": 25})
    confirmed = trader.api("POST", f"/lots/{eggs['id']}/reservations", json={"quantity": 60})
    producer.api("POST", f"/reservations/{confirmed['id']}/confirm")
    look(producer.page(viewport), "/producer/reservations", "producer-reservations")
    look(trader.page(viewport), "/trader/reservations", "trader-reservations")


@VIEWPORTS
def test_trader_pages(people, viewport):
    producer = people("producer", name="Maraîchage de Capdenac")
    farm_and_lot(producer, product="Courges butternut", quantity=120, price_cents=160, labels=["organic"])
    farm_and_lot(producer, product="Poireaux", unit="bunch", quantity=40, price_cents=140, min_order=5)
    trader = people("trader", name="Épicerie du Célé", base={"postcode": "46000"})
    trader.api("POST", "/watches", json={"radius_km": 30, "name": "Autour du dépôt"})
    trader.api("POST", "/watches", json={"radius_km": 15, "name": "Œufs et fromages", "categories": ["eggs", "dairy"]})
    page = trader.page(viewport)
    look(page, "/trader/board", "trader-board")
    if viewport is PHONE:
        page.get_by_role("button", name="Carte").click()
        page.locator(".leaflet-interactive").first.wait_for()
        screenshot(page, "trader-board-map")
    look(page, "/trader/watches", "trader-watches")


@VIEWPORTS
def test_chamber_dashboard(people, viewport):
    chamber = people("chamber", name="Chambre d'agriculture du Lot", territory="46,82")
    page = chamber.page(viewport)
    look(page, "/chamber", "chamber-dashboard")
    assert page.locator("canvas[data-chart]").count() == 4  # the demo's year of history is not masked
    assert page.locator(".stat").count() == 6
    # The period's date fields as a French browser shows them (day, month, year), so the screenshots show
    # what French users see: Chromium's own language, not the page's, orders them (tests/browser/conftest.py).
    assert page.locator("html").get_attribute("lang") == "fr"
    assert date_field_parts(page)[:3] == ["Jour", "Mois", "Année"]


def date_field_parts(page) -> list[str]:
    """The parts of the page's date fields in the order Chromium shows them, named as its accessibility tree names
    them (the parts live in the browser's own closed shadow tree, out of reach of the page's scripts)."""
    nodes = page.context.new_cdp_session(page).send("Accessibility.getFullAXTree")["nodes"]
    return [node["name"]["value"].split()[0] for node in nodes
            if node["role"]["value"] == "spinbutton" and node.get("name", {}).get("value")]


@VIEWPORTS
def test_first_visits_show_what_to_do(people, viewport):
    """Empty pages say what to do next: a producer with no farm or lot yet, a trader with no watch."""
    producer = people("producer")
    page = producer.page(viewport)
    look(page, "/producer/lots", "first-visit-farm")  # no farm yet: the farm set-up comes first
    assert page.url.endswith("/producer/farms/new")
    producer.api("POST", "/farms", json={"name": "Ferme Neuve", "postcode": "46090", "commune": "Pradines"})
    for path, name in [("/producer/lots", "empty-producer-lots"), ("/producer/reservations", "empty-producer-reservations")]:
        look(page, path, name)
        assert page.locator("main .empty a.btn, main .empty p").count() > 0, f"{path}: an empty page with no guidance"
    trader = people("trader", base={"postcode": "46000"})
    page = trader.page(viewport)
    for path, name in [("/trader/board", "empty-trader-board"), ("/trader/reservations", "empty-trader-reservations")]:
        look(page, path, name)
        assert page.locator("main .empty a.btn, main .empty p").count() > 0, f"{path}: an empty page with no guidance"


def test_the_api_docs_work_offline(people):
    visitor = people("trader")
    page = visitor.page(DESKTOP, sign_in=False)
    page.goto("/api/v1/docs")
    page.get_by_text("/api/v1/lots/{lot_id}/stock").first.wait_for()
    screenshot(page, "api-docs")
