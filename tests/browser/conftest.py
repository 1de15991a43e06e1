"""Browser tests: the real server in a subprocess (tests/live_server.py, on a temporary database) and Debian's
Chromium driven by Playwright.

Never `playwright install`: the browser is /usr/bin/chromium (`make test` installs it with apt).
Each test signs up its own people, so one server serves the whole module.
"""
from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

import pytest
import requests

from tests.live_server import ROOT, LiveServer, prepare_database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
PASSWORD = "browser-test-password"
PHONE = {"width": 390, "height": 844}
SMALL_PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
SCREENSHOTS = ROOT / "tests" / "screenshots"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; `make test` does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Date and time fields show the browser's own language, not the page's `lang` nor the context's locale
        # (fr-FR below): a French Chromium, as French users have, writes 26/11/2026 where an English one writes
        # 11/26/2026. On Linux Chromium takes its language from LANGUAGE, and only when Debian's chromium-l10n
        # (installed by `make system-test-deps`) brings its French strings; without them it stays in English.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                             env=os.environ | {"LANGUAGE": "fr"})
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'carreau.sqlite3'}"
    prepare_database(url)
    with LiveServer(url) as running:
        yield running


class Person:
    """Someone using Carreau: an account, an API token for setting the scene, and browser pages of their own."""

    def __init__(self, server: LiveServer, chromium, role: str, **fields):
        self.server = server
        self.chromium = chromium
        self.email = f"{role}-{uuid.uuid4().hex[:10]}@example.org"
        self.role = role
        body = {"email": self.email, "password": PASSWORD, "role": role, "name": fields.pop("name", f"Test {role}")}
        if role in ("producer", "trader"):
            r = requests.post(server.url + "/api/v1/auth/register", json=body | fields, timeout=30)
            r.raise_for_status()
        else:
            server.cli("users", "create", "--role", role, "--email", self.email, "--password", PASSWORD,
                       "--name", body["name"], "--territory", fields.get("territory", "46"))
        r = requests.post(server.url + "/api/v1/auth/tokens", json={"email": self.email, "password": PASSWORD},
                          timeout=30)
        r.raise_for_status()
        self.user = r.json()["user"]
        self.headers = {"Authorization": f"Bearer {r.json()['token']}"}
        self.contexts = []
        self.problems: list[str] = []

    def api(self, method: str, path: str, **kw):
        r = requests.request(method, self.server.url + "/api/v1" + path, headers=self.headers, timeout=30, **kw)
        assert r.status_code < 400, (r.status_code, r.text)
        return r.json() if r.content else None

    def page(self, viewport=PHONE, sign_in=True, **context_options):
        """A fresh browser context (its own cookies and storage), signed in through the login form."""
        context = self.chromium.new_context(viewport=viewport, locale="fr-FR", timezone_id="Europe/Paris",
                                            base_url=self.server.url, **context_options)
        # No network here: map tiles and anything off this machine fail fast, as they would offline.
        context.route(lambda url: not url.startswith(self.server.url), lambda route: route.abort())
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and not _tile_noise(m.text)
                and not _expected_not_found(m) and self.problems.append(m.text))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        if sign_in:
            page.goto("/login")
            page.fill("#email", self.email)
            page.fill("#password", PASSWORD)
            page.get_by_role("button", name="Se connecter").last.click()
            page.wait_for_url(lambda url: "/login" not in url)
        return page

    def close(self):
        for context in self.contexts:
            context.close()


def _tile_noise(text: str) -> bool:
    """Map tiles and other off-site requests are refused here on purpose (and offline tests cut the network)."""
    return "net::ERR_FAILED" in text or "net::ERR_INTERNET_DISCONNECTED" in text


def _expected_not_found(message) -> bool:
    """Refusals the page handles are not problems: an API answer of 4xx (a stock step refused with 409,
    say, which the page explains), the 404 of the page we open on purpose to see the not-found page, or
    the 422 of a form page sent back with its errors. A missing script, style or image still is."""
    url = (message.location or {}).get("url", "")
    refused = any(f"status of {code}" in message.text for code in (400, 401, 403, 404, 409, 422, 429))
    form_errors = "status of 422" in message.text
    return refused and ("/api/v1/" in url or "/no-such-page" in url or form_errors)


@pytest.fixture
def people(server, chromium):
    made = []

    def make(role, **fields):
        person = Person(server, chromium, role, **fields)
        made.append(person)
        return person

    yield make
    for person in made:
        person.close()
    problems = [p for person in made for p in person.problems]
    assert not problems, f"the browser reported errors: {problems}"


def farm_and_lot(producer: Person, **lot) -> tuple[dict, dict]:
    farm = producer.api("POST", "/farms", json={"name": "Ferme des Essais", "postcode": "46090", "commune": "Pradines",
                                                "pickup_hours": {"sat": ["08:00-12:00"]}})
    until = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).isoformat()
    body = {"farm_id": farm["id"], "product": "Tomates", "category": "vegetables", "unit": "kg", "quantity": 30,
            "price_cents": 280, "available_until": until} | lot
    return farm, producer.api("POST", "/lots", json=body)


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    path = SCREENSHOTS / f"{name}-{size['width']}x{size['height']}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
