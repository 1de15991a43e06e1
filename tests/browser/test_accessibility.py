"""Accessibility in Chromium: axe-core on every main page at 390×844 and 1280×800 (no "serious" or "critical"
violation), and the two everyday tasks done with the keyboard alone: a trader reserves from the live board,
a producer steps stock.

axe-core is vendored under static/vendor/axe-core/ but no page loads it: the test injects it from disk
(`add_script_tag(path=...)`), in browser contexts that bypass the Content-Security-Policy for that purpose.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, farm_and_lot
from tests.live_server import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE = ROOT / "static" / "vendor" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
LIVE = "[data-conn-state=live]"


def axe_violations(page) -> list[str]:
    """The serious and critical violations axe finds in the page as it is now, one readable line each."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async (blocking) => {
        const results = await axe.run(document, {resultTypes: ["violations"]});
        return results.violations.filter(v => blocking.includes(v.impact)).map(v =>
            `${v.impact} ${v.id} (${v.help}): ` + v.nodes.slice(0, 4).map(n => n.target.join(" ")).join(" | "));
    }""", list(BLOCKING))
    return found


def check(page, *paths: str | tuple[str, str]) -> list[str]:
    """Open each page in turn (a path, or (path, selector to wait for)) and gather what axe finds."""
    problems = []
    for path in paths:
        path, ready = path if isinstance(path, tuple) else (path, None)
        page.goto(path)
        page.wait_for_load_state("networkidle")
        if ready:
            page.locator(ready).first.wait_for()
        problems += [f"{path}: {line}" for line in axe_violations(page)]
    return problems


VIEWPORTS = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])


def test_axe_runs_and_reports_what_it_finds(people):
    """The checker itself works here: a page broken on purpose is reported (so a clean page means something)."""
    visitor = people("trader")
    page = visitor.page(PHONE, sign_in=False, bypass_csp=True)
    page.goto("/login")
    page.evaluate("""() => {
        document.querySelector("label[for=email]").remove();
        document.querySelector("#email").removeAttribute("aria-describedby");
    }""")
    assert any("critical label" in line for line in axe_violations(page))


@VIEWPORTS
def test_public_pages(people, viewport):
    visitor = people("trader")
    page = visitor.page(viewport, sign_in=False, bypass_csp=True)
    problems = check(page, "/", "/login", "/signup", "/signup?role=trader", "/no-such-page")
    assert not problems, "\n".join(problems)


@VIEWPORTS
def test_producer_pages(people, viewport):
    producer = people("producer", name="Les Jardins de Pradines")
    farm, lot = farm_and_lot(producer, product="Tomates anciennes", quantity=42, labels=["organic"])
    trader = people("trader", name="Restaurant Le Lamparo", base={"postcode": "46000"})
    trader.api("POST", f"/lots/{lot['id']}/reservations", json={"quantity": 5})
    confirmed = trader.api("POST", f"/lots/{lot['id']}/reservations", json={"quantity": 3})
    producer.api("POST", f"/reservations/{confirmed['id']}/confirm")
    page = producer.page(viewport, bypass_csp=True)
    problems = check(page, "/producer/lots", "/producer/lots/new", f"/producer/lots/new?repeat={lot['id']}",
                     "/producer/farms/new", f"/producer/farms/{farm['id']}", ("/producer/reservations", LIVE), "/account")
    # The stock card's "more actions" open, and a form sent back with errors.
    page.goto("/producer/lots")
    page.locator(".lot-card__more summary").first.click()
    problems += [f"/producer/lots (more actions open): {line}" for line in axe_violations(page)]
    page.goto("/producer/lots/new")
    page.evaluate("document.querySelector('[data-lot-form]').noValidate = true")  # the server's own checks
    page.get_by_role("button", name="Publier le lot").click()
    page.locator(".alert--error").wait_for()
    problems += [f"/producer/lots/new (errors): {line}" for line in axe_violations(page)]
    assert not problems, "\n".join(problems)


def test_a_producer_without_a_farm_or_lots(people):
    """The first visit: empty states and the farm set-up."""
    producer = people("producer")
    page = producer.page(PHONE, bypass_csp=True)
    problems = check(page, "/producer/lots", "/producer/reservations", "/producer/farms/new")
    assert not problems, "\n".join(problems)


WEEKDAYS = ("Lundi", "Mardi", "Mercredi", "Jeudi", "Vendredi", "Samedi", "Dimanche")


def test_hints_are_read_with_the_fields_they_guide(people):
    """A hint written once above several fields is part of each one's accessible description, read out when
    the field gets the focus: the pickup hours of every weekday (then the error too), a trader's base, a watch's
    centre."""
    producer = people("producer")
    page = producer.page(PHONE)
    page.goto("/producer/farms/new")
    hint = page.locator("#hours-hint").inner_text()
    assert "08:00-12:00" in hint
    for day in WEEKDAYS:
        expect(page.get_by_role("textbox", name=day, exact=True)).to_have_accessible_description(hint)

    page.get_by_role("textbox", name="Nom de la ferme").fill("Ferme des Essais")
    page.get_by_role("textbox", name="Code postal").fill("46000")
    monday = page.get_by_role("textbox", name="Lundi", exact=True)
    monday.fill("8h-midi")
    page.get_by_role("button", name="Enregistrer la ferme").click()
    page.locator(".alert--error").wait_for()
    error = page.locator(".field__error").inner_text()
    assert "08:00-12:00" in error
    # The hint, then the error (after the warning sign the style puts before it).
    expect(monday).to_have_accessible_description(re.compile(f"^{re.escape(hint)} .*{re.escape(error)}$"))
    expect(page.get_by_role("textbox", name="Mardi", exact=True)).to_have_accessible_description(hint)

    trader = people("trader", base={"postcode": "46000"})
    page = trader.page(PHONE)
    page.goto("/account")
    base = page.locator("#base-hint").inner_text()
    for field in ("#postcode", "#commune"):
        expect(page.locator(field)).to_have_accessible_description(base)
    page.goto("/trader/watches")
    centre = page.locator("#centre-hint").inner_text()
    assert "Cahors" in centre
    for field in ("#postcode", "#commune"):
        expect(page.locator(field)).to_have_accessible_description(centre)
    expect(page.locator("[data-watch-map]")).to_have_accessible_description(page.locator("#map-hint").inner_text())
    radius = page.get_by_role("textbox", name="Rayon (km)")
    radius.fill("500")
    page.get_by_role("button", name="Créer l'alerte").click()
    page.locator(".alert--error").wait_for()
    expect(radius).to_have_accessible_description(re.compile("Indiquez un rayon entre 1 et 200 km.$"))


@VIEWPORTS
def test_trader_pages(people, viewport):
    producer = people("producer", name="Maraîchage de Capdenac")
    _, lot = farm_and_lot(producer, product="Courges butternut", quantity=120, labels=["organic"])
    farm_and_lot(producer, product="Poireaux", unit="bunch", quantity=40, min_order=5)
    trader = people("trader", name="Épicerie du Célé", base={"postcode": "46000"})
    trader.api("POST", "/watches", json={"radius_km": 30, "name": "Autour du dépôt"})
    reservation = trader.api("POST", f"/lots/{lot['id']}/reservations", json={"quantity": 10})
    producer.api("POST", f"/reservations/{reservation['id']}/confirm")
    trader.api("POST", f"/lots/{lot['id']}/reservations", json={"quantity": 4})
    page = trader.page(viewport, bypass_csp=True)
    problems = check(page, ("/trader/board", LIVE))
    page.locator(".board-card").first.wait_for()
    problems += [f"/trader/board (cards): {line}" for line in axe_violations(page)]
    if viewport is PHONE:
        page.get_by_role("button", name="Carte").click()
        page.locator(".leaflet-interactive").first.wait_for()
        problems += [f"/trader/board (map): {line}" for line in axe_violations(page)]
    problems += check(page, "/trader/watches", ("/trader/reservations", LIVE))
    assert not problems, "\n".join(problems)


def test_a_trader_without_watches(people):
    trader = people("trader", base={"postcode": "46000"})
    page = trader.page(PHONE, bypass_csp=True)
    problems = check(page, "/trader/board", "/trader/watches", "/trader/reservations")
    assert not problems, "\n".join(problems)


@VIEWPORTS
def test_chamber_dashboard(people, viewport):
    chamber = people("chamber", name="Chambre d'agriculture du Lot", territory="46,82")
    page = chamber.page(viewport, bypass_csp=True)
    problems = check(page, "/chamber")
    assert not problems, "\n".join(problems)


# --- the keyboard alone ---------------------------------------------------------------------------

FOCUS_SHOWN = """() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const style = getComputedStyle(el);
    const outlined = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
    // A visually hidden control (a chip's radio button) shows its focus on the label next to it.
    const proxy = el.nextElementSibling && getComputedStyle(el.nextElementSibling);
    const proxied = proxy && proxy.outlineStyle !== "none" && parseFloat(proxy.outlineWidth) >= 2;
    return {id: el.id, text: (el.getAttribute("aria-label") || el.textContent || el.name || "").trim().slice(0, 40),
            tag: el.tagName, visible: outlined || proxied};
}"""


def tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching `selector` has the focus; every stop on the way shows its focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            focused = page.evaluate(FOCUS_SHOWN)
            assert focused["visible"], f"the focus on {focused} cannot be seen"
            return
        focused = page.evaluate(FOCUS_SHOWN)
        assert focused is None or focused["visible"], f"the focus on {focused} cannot be seen"
    raise AssertionError(f"{selector} not reached in {limit} presses of Tab")


def test_a_trader_reserves_from_the_board_with_the_keyboard_alone(people):
    producer = people("producer")
    _, lot = farm_and_lot(producer, product="Carottes des sables", quantity=50)
    trader = people("trader", base={"postcode": "46000"})
    trader.api("POST", "/watches", json={"radius_km": 30})
    page = trader.page(DESKTOP)
    page.goto("/trader/board")
    page.locator(LIVE).wait_for()
    page.locator(f"#lot-{lot['id']}").wait_for()

    tab_to(page, f"#quantity-{lot['id']}")
    page.keyboard.type("7,5")
    tab_to(page, f"#lot-{lot['id']} button[type=submit]", limit=1)
    page.keyboard.press("Enter")
    result = page.locator(f"#lot-{lot['id']} .reserve__result--ok")
    result.wait_for()
    assert "Réservé" in result.inner_text()
    [reservation] = trader.api("GET", "/reservations")
    assert reservation["lot_id"] == lot["id"] and reservation["quantity"] == 7.5

    # The link to "my reservations" in the confirmation is the next stop, and Enter follows it.
    tab_to(page, f"#lot-{lot['id']} .reserve__result a", limit=3)
    page.keyboard.press("Enter")
    page.wait_for_url("**/trader/reservations*")


def test_a_producer_steps_stock_with_the_keyboard_alone(people):
    producer = people("producer")
    _, lot = farm_and_lot(producer, quantity=30)
    page = producer.page(PHONE)
    page.goto("/producer/lots")
    card = f"#lot-{lot['id']}"

    tab_to(page, f"{card} button[value='-1']")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    tab_to(page, f"{card} button[value='5']", limit=2)
    page.keyboard.press("Enter")
    page.locator(f"{card} [data-pending]").wait_for(state="hidden")
    assert page.locator(f"{card} [data-available-text]").inner_text() == "33\u00a0kg"
    assert producer.api("GET", f"/lots/{lot['id']}")["quantity_available"] == 33

    tab_to(page, f"{card} button[name=sold_out]", limit=2)
    page.keyboard.press("Enter")
    page.locator(f"{card} .pill", has_text="Épuisé").wait_for()
    assert producer.api("GET", f"/lots/{lot['id']}")["quantity_available"] == 0
