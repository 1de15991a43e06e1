"""Security headers, a CSP the pages satisfy (no inline script or style), and the offline API docs."""
import re
from pathlib import Path

import pytest

from tests.web.conftest import csrf_from

STATIC = Path(__file__).resolve().parents[2] / "static"


def _pages(browser, make_user, make_farm, make_lot):
    from exchange.domain import watches

    producer = make_user("producer")
    lot = make_lot(make_farm(producer))
    trader = make_user("trader", base={"postcode": "46000"})
    watches.create_watch(trader, radius_km=30)
    chamber = make_user("chamber")
    anonymous = [browser.get(url) for url in ("/", "/login", "/signup", "/no-such-page")]
    browser.sign_in(producer.email)
    signed_in = [browser.get(url) for url in ("/producer/lots", "/producer/lots/new", f"/producer/lots/new?repeat={lot.id}",
                                                "/producer/farms/new", "/producer/farm", "/producer/reservations",
                                                "/account")]
    signed_in = [r if r.status_code != 302 else browser.get(r.headers["Location"]) for r in signed_in]
    browser.client.post("/logout", data={"csrf_token": csrf_from(browser.get("/account").text)})
    browser.sign_in(trader.email)
    signed_in += [browser.get(url) for url in ("/trader/board", "/trader/watches", "/trader/reservations")]
    browser.client.post("/logout", data={"csrf_token": csrf_from(browser.get("/account").text)})
    browser.sign_in(chamber.email)
    signed_in.append(browser.get("/chamber"))
    assert all(r.status_code == 200 for r in signed_in), [r.status_code for r in signed_in]
    return anonymous + signed_in


def test_pages_send_security_headers_and_a_strict_csp(browser, make_user, make_farm, make_lot):
    for response in _pages(browser, make_user, make_farm, make_lot):
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self' 'nonce-" in csp and "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        assert "style-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_pages_have_no_inline_script_style_or_handlers(browser, make_user, make_farm, make_lot):
    for response in _pages(browser, make_user, make_farm, make_lot):
        html = response.text
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert 'src="' in tag or 'type="application/json"' in tag, tag
        assert "<style" not in html
        assert not re.search(r"\sstyle=\"", html)
        assert not re.search(r"\son[a-z]+=\"", html), "inline event handler"


def test_every_static_file_a_page_names_exists(browser, make_user, make_farm, make_lot):
    for response in _pages(browser, make_user, make_farm, make_lot):
        named = set(re.findall(r'(?:src|href)="(/static/[^"#?]+)', response.text))
        for url in named:
            assert (STATIC / url[len("/static/"):]).is_file(), url
        # The accessibility checker is vendored for the browser tests, which inject it; no page ships it.
        assert not [url for url in named if "axe" in url]


@pytest.mark.parametrize("asset", ["swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"])
def test_api_docs_are_served_from_vendored_files(client, asset):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and f"/static/vendor/swagger-ui/{asset}" in page.text
    assert "<script>" not in page.text  # the loader is a file: the CSP holds on the docs page too
    assert client.get(f"/static/vendor/swagger-ui/{asset}").status_code == 200


def test_vendored_libraries_are_recorded_with_their_versions():
    readme = (STATIC / "vendor" / "README.md").read_text()
    for folder, package in [("socket.io", "socket.io-client"), ("leaflet", "leaflet"), ("chartjs", "chart.js"),
                            ("swagger-ui", "swagger-ui-dist"), ("axe-core", "axe-core")]:
        assert f"[{package}]" in readme and (STATIC / "vendor" / folder).is_dir()
    assert (STATIC / "vendor" / "leaflet" / "images" / "marker-icon.png").is_file()
