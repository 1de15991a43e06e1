"""Bad input never hurts; secrets never leak; production refuses a weak configuration."""
import logging

import pytest

from exchange import create_app
from exchange import config as config_module

API = "/api/v1"


def test_an_oversized_body_is_refused_with_413_json(client, login_as):
    _, headers = login_as("producer")
    r = client.post(f"{API}/farms", data=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                    headers=headers | {"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json["error"] == "too_large"


@pytest.mark.parametrize("body", [
    {"email": "x@example.org", "password": "p" * 12, "role": "trader", "name": "\u202e\u0000" * 3},
    {"email": "x@example.org", "password": "p" * 12, "role": "trader", "name": "N", "phone": "𝟘𝟙𝟚𝟛𝟜𝟝𝟞"},
    {"email": "é@é", "password": 12, "role": ["trader"], "name": None},
    [1, 2, 3],
    "just a string",
])
def test_strange_registration_bodies_get_4xx_never_500(client, body):
    r = client.post(f"{API}/auth/register", json=body)
    assert 400 <= r.status_code < 500 and r.is_json


@pytest.mark.parametrize("hops", [0, 1])
def test_forwarded_addresses_count_only_behind_a_declared_proxy(tmp_path, hops):
    """Rate limits per address: behind a proxy (PROXY_HOPS=1) each client is counted by its own address;
    without one, a forged X-Forwarded-For changes nothing."""
    from tests.conftest import _config

    app = create_app(_config(tmp_path, None, {"PROXY_HOPS": hops, "LOGIN_RATE_LIMIT_ADDRESS": "2 per hour"}))
    with app.app_context():
        from exchange.extensions import db

        db.create_all()
    client = app.test_client()

    def register(n, address):
        body = {"email": f"p{n}@example.org", "password": "long-enough-pw", "role": "trader", "name": "N"}
        return client.post(f"{API}/auth/register", json=body,
                           headers={"X-Forwarded-For": address, "X-Forwarded-Proto": "https"}).status_code

    assert [register(n, "203.0.113.1") for n in range(3)] == [201, 201, 429]
    assert register(3, "203.0.113.2") == (201 if hops else 429)
    page = client.get(f"{API}/docs", headers={"X-Forwarded-Proto": "https"})
    assert ("wss:" in page.headers.get("Content-Security-Policy", "")) == bool(hops)


def test_huge_numbers_and_naive_datetimes_name_the_field(client, login_as, make_farm):
    producer, headers = login_as("producer")
    farm = make_farm(producer)
    body = {"farm_id": farm.id, "product": "P", "category": "fruits", "unit": "kg", "quantity": 10 ** 400,
            "price_cents": 10 ** 30, "available_until": "2031-01-01T08:00:00"}
    r = client.post(f"{API}/lots", json=body, headers=headers)
    assert r.status_code == 422
    assert {"quantity", "price_cents", "available_until"} <= set(r.json["errors"]["json"])


def test_production_refuses_to_start_without_a_real_secret_key(monkeypatch):
    monkeypatch.setattr(config_module.ProductionConfig, "SECRET_KEY", "dev-only-insecure-key-change-me")
    monkeypatch.setenv("CARREAU_ENV", "production")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_production_cookies_are_secure_httponly_and_samesite(monkeypatch):
    monkeypatch.setattr(config_module.ProductionConfig, "SECRET_KEY", "x" * 48)
    monkeypatch.setenv("CARREAU_ENV", "production")
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax" and app.config["REMEMBER_COOKIE_SECURE"]


def test_no_password_or_token_reaches_the_logs(client, make_user, caplog):
    make_user("trader", email="t@example.org", password="a-secret-password")
    with caplog.at_level(logging.DEBUG):
        token = client.post(f"{API}/auth/tokens",
                            json={"email": "t@example.org", "password": "a-secret-password"}).json["token"]
        client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
        client.post(f"{API}/auth/tokens", json={"email": "t@example.org", "password": "wrong-secret-password"})
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "a-secret-password" not in logged and token not in logged
