"""Signing up, in and out through the pages: CSRF on every form, errors in French, the language remembered."""
from exchange.models import User
from tests.conftest import PASSWORD
from tests.web.conftest import csrf_from, errors_in


def test_a_producer_signs_up_and_is_sent_to_set_up_the_farm(browser, db):
    r = browser.submit("/signup", {"role": "producer", "name": "Ferme des Tilleuls", "email": "Tilleuls@Example.org",
                                   "password": "un mot de passe long"})
    assert r.status_code == 302 and r.headers["Location"] == "/producer/farms/new"
    user = db.session.scalar(db.select(User).where(User.email == "tilleuls@example.org"))
    assert user.role == "producer" and user.locale == "fr"
    assert browser.get("/producer/farms/new").status_code == 200


def test_a_trader_signs_up_with_a_base_from_the_postcode(browser, db):
    r = browser.submit("/signup", {"role": "trader", "name": "Primeur", "email": "primeur@example.org",
                                   "password": "un mot de passe long", "postcode": "46000"})
    assert r.status_code == 302
    user = db.session.scalar(db.select(User).where(User.email == "primeur@example.org"))
    assert user.base_commune == "Cahors" and user.base_insee == "46042"


def test_sign_up_errors_are_in_french_next_to_their_fields(browser, make_user):
    r = browser.submit("/signup", {"role": "producer", "name": "", "email": "pas-une-adresse", "password": "court"})
    assert r.status_code == 422
    messages = errors_in(r.text)
    assert "Ce champ est obligatoire." in messages
    assert "Cette adresse e-mail n'est pas valide." in messages
    assert "Au moins 10 caractères." in messages
    assert 'aria-invalid="true"' in r.text

    taken = make_user("trader")
    r = browser.submit("/signup", {"role": "trader", "name": "Bis", "email": taken.email.upper(),
                                   "password": "un mot de passe long"})
    assert r.status_code == 422 and "Un compte existe déjà avec cette adresse e-mail." in errors_in(r.text)

    r = browser.submit("/signup", {"role": "trader", "name": "Bis", "email": "bis@example.org",
                                   "password": "un mot de passe long", "postcode": "00000"})
    assert r.status_code == 422 and any("00000" in m for m in errors_in(r.text))


def test_chambers_cannot_sign_up_themselves(browser):
    r = browser.submit("/signup", {"role": "chamber", "name": "X", "email": "x@example.org",
                                   "password": "un mot de passe long"})
    assert r.status_code == 422


def test_forms_without_their_csrf_token_are_refused(client, make_user):
    user = make_user("producer")
    r = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert r.status_code == 400 and "Requête incorrecte" in r.text
    page = client.get("/login")
    r = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": "forged"})
    assert r.status_code == 400
    r = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_from(page.text)})
    assert r.status_code == 302


def test_wrong_password_says_so_in_french_and_sign_out_needs_a_post_with_csrf(browser, make_user):
    user = make_user("producer")
    r = browser.submit("/login", {"email": user.email, "password": "pas le bon mot de passe"})
    assert r.status_code == 422 and errors_in(r.text) == ["Adresse e-mail ou mot de passe incorrect."]
    browser.sign_in(user.email)
    assert browser.get("/account").status_code == 200
    assert browser.client.get("/logout").status_code == 405  # no sign-out by a link someone else can plant
    page = browser.get("/account")
    r = browser.client.post("/logout", data={"csrf_token": csrf_from(page.text)})
    assert r.status_code == 302
    assert browser.get("/account").status_code == 302


def test_failed_sign_ins_are_limited_per_account(browser, make_user, app):
    app.config["LOGIN_RATE_LIMIT_ACCOUNT"] = "3 per 15 minutes"
    user = make_user("trader")
    for _ in range(3):
        assert browser.submit("/login", {"email": user.email, "password": "wrong password!"}).status_code == 422
    r = browser.submit("/login", {"email": user.email, "password": PASSWORD})
    assert r.status_code == 429 and "Trop de tentatives" in r.text and r.headers.get("Retry-After")


def test_sign_in_goes_back_to_the_page_asked_for_but_never_off_site(browser, make_user):
    user = make_user("producer")
    r = browser.get("/producer/lots/new")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=")
    r = browser.submit("/login?next=/producer/lots/new", {"email": user.email, "password": PASSWORD,
                                                          "next": "/producer/lots/new"})
    assert r.headers["Location"] == "/producer/lots/new"
    browser.client.post("/logout", data={"csrf_token": csrf_from(browser.get("/account").text)})
    for evil in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        r = browser.submit("/login", {"email": user.email, "password": PASSWORD, "next": evil})
        assert r.headers["Location"] == "/producer/farms/new" or r.headers["Location"].startswith("/producer")
        browser.client.post("/logout", data={"csrf_token": csrf_from(browser.get("/account").text)})


def test_the_language_switch_is_remembered_on_the_account(browser, make_user, db):
    assert "Connexion" in browser.get("/login").text  # French by default
    page = browser.get("/login")
    browser.client.post("/language", data={"csrf_token": csrf_from(page.text), "locale": "en", "next": "/login"})
    assert "<h1>Sign in</h1>" in browser.get("/login").text  # remembered in the session before signing in

    user = make_user("producer")
    browser.sign_in(user.email)
    page = browser.get("/account")
    assert "Mon compte" in page.text  # the account's own language (French) applies once signed in
    browser.client.post("/language", data={"csrf_token": csrf_from(page.text), "locale": "en", "next": "/account"})
    assert db.session.get(User, user.id, populate_existing=True).locale == "en"
    assert "My account" in browser.get("/account").text


def test_a_trader_changes_the_base_and_a_wrong_postcode_is_explained(browser, make_trader, db):
    trader = make_trader()
    browser.sign_in(trader.email)
    r = browser.submit("/account", {"name": trader.name, "locale": "fr", "postcode": "46100", "commune": ""})
    assert r.status_code == 422 and any("Figeac" in m for m in errors_in(r.text))  # 46100 serves 19 communes
    r = browser.submit("/account", {"name": trader.name, "locale": "fr", "postcode": "46100", "commune": "Figeac"})
    assert r.status_code == 302
    assert db.session.get(User, trader.id, populate_existing=True).base_commune == "Figeac"
    r = browser.submit("/account", {"name": trader.name, "locale": "fr", "postcode": "99999", "commune": ""})
    assert r.status_code == 422 and errors_in(r.text)


def test_pages_refuse_other_roles(browser, make_trader):
    browser.sign_in(make_trader().email)
    r = browser.get("/producer/lots")
    assert r.status_code == 403 and "Accès refusé" in r.text
