"""The pages' scripts call the API with the session cookie: unsafe calls need the page's CSRF token too."""
from tests.web.conftest import csrf_from


def test_session_calls_need_the_csrf_header(browser, make_user, make_farm, make_lot):
    producer = make_user("producer")
    lot = make_lot(make_farm(producer), quantity=10)
    browser.sign_in(producer.email)
    r = browser.client.post(f"/api/v1/lots/{lot.id}/stock", json={"delta": 1})
    assert r.status_code == 400 and r.json["error"] == "csrf"
    token = csrf_from(browser.get("/producer/lots").text)
    r = browser.client.post(f"/api/v1/lots/{lot.id}/stock", json={"delta": 1}, headers={"X-CSRFToken": token})
    assert r.status_code == 200 and r.json["quantity_available"] == 11


def test_a_script_gets_a_fresh_token_when_its_page_aged(browser, make_user, make_farm, make_lot):
    producer = make_user("producer")
    lot = make_lot(make_farm(producer))
    browser.sign_in(producer.email)
    token = browser.get("/session/csrf").json["csrf_token"]
    r = browser.client.post(f"/api/v1/lots/{lot.id}/stock", json={"delta": 1}, headers={"X-CSRFToken": token})
    assert r.status_code == 200
