"""Sign-up, tokens and one's own profile over the API."""
import pytest

from exchange.models import ApiToken

API = "/api/v1"


def register(client, **kw):
    body = {"email": "Marie@Example.org", "password": "un-mot-de-passe", "role": "producer", "name": "Marie"} | kw
    return client.post(f"{API}/auth/register", json=body)


def test_register_then_sign_in_with_a_token(client):
    r = register(client)
    assert r.status_code == 201
    assert r.json["email"] == "marie@example.org" and r.json["role"] == "producer"
    assert "password" not in r.json and "password_hash" not in r.json

    r = client.post(f"{API}/auth/tokens", json={"email": "MARIE@example.org", "password": "un-mot-de-passe"})
    assert r.status_code == 201
    token = r.json["token"]
    me = client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json["name"] == "Marie"


def test_email_is_unique_whatever_its_case(client):
    assert register(client).status_code == 201
    r = register(client, email="MARIE@EXAMPLE.ORG")
    assert r.status_code == 409 and "email" in r.json["errors"]


@pytest.mark.parametrize("role", ["chamber", "admin", "boss"])
def test_nobody_registers_as_chamber_or_admin(client, role):
    r = register(client, role=role)
    assert r.status_code == 422 and "role" in r.json["errors"]["json"]


def test_short_password_is_refused_naming_the_field(client):
    r = register(client, password="court")
    assert r.status_code == 422 and "password" in r.json["errors"]


def test_wrong_password_or_unknown_email_gets_the_same_401_json(client, make_user):
    make_user("trader", email="t@example.org")
    r = client.post(f"{API}/auth/tokens", json={"email": "t@example.org", "password": "wrong-password"})
    assert r.status_code == 401 and r.json["error"] == "unauthorized"
    unknown = client.post(f"{API}/auth/tokens", json={"email": "nobody@example.org", "password": "wrong-password"})
    assert unknown.status_code == 401 and unknown.json == r.json


def test_tokens_are_stored_hashed_and_revocable(client, make_user, db):
    make_user("trader", email="t@example.org", password="correct-horse-battery")
    token = client.post(f"{API}/auth/tokens", json={"email": "t@example.org", "password": "correct-horse-battery"}).json["token"]
    stored = db.session.scalars(db.select(ApiToken.token_hash)).all()
    assert token not in stored and len(stored) == 1
    headers = {"Authorization": f"Bearer {token}"}
    assert client.delete(f"{API}/auth/tokens", headers=headers).status_code == 204
    assert client.get(f"{API}/me", headers=headers).status_code == 401


def test_anonymous_and_garbage_tokens_get_401(client):
    assert client.get(f"{API}/me").status_code == 401
    assert client.get(f"{API}/me", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_a_trader_sets_a_base_from_a_postcode(client, login_as):
    _, headers = login_as("trader")
    r = client.patch(f"{API}/me", json={"base": {"postcode": "46000"}}, headers=headers)
    assert r.status_code == 200
    base = r.json["base"]
    assert base["insee"] == "46042" and base["commune"] == "Cahors"
    assert abs(base["lat"] - 44.45) < 0.1 and abs(base["lon"] - 1.44) < 0.1


def test_unknown_base_postcode_is_422_naming_the_field(client, login_as):
    _, headers = login_as("trader")
    r = client.patch(f"{API}/me", json={"base": {"postcode": "00000"}}, headers=headers)
    assert r.status_code == 422 and "base.postcode" in r.json["errors"]


def test_failed_sign_ins_are_limited_per_account(client, make_user, app):
    app.config["LOGIN_RATE_LIMIT_ACCOUNT"] = "3 per minute"
    make_user("trader", email="t@example.org")
    for _ in range(3):
        client.post(f"{API}/auth/tokens", json={"email": "t@example.org", "password": "wrong-password"})
    r = client.post(f"{API}/auth/tokens", json={"email": "T@example.org", "password": "wrong-password"})
    assert r.status_code == 429 and "Retry-After" in r.headers and r.json["error"] == "too_many_requests"


def test_a_token_stops_working_once_revoked_expired_or_its_account_deactivated(app, db, make_user):
    import datetime as dt

    from exchange.domain import accounts
    from exchange.models.accounts import hash_token
    from exchange.models.types import utcnow

    client = app.test_client()

    def me(token):
        return client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"}).status_code

    def stored(token):
        return db.session.query(ApiToken).filter_by(token_hash=hash_token(token)).one()

    user = make_user("trader")
    kept, revoked, expired = (accounts.issue_token(user) for _ in range(3))
    assert [me(kept), me(revoked), me(expired)] == [200, 200, 200]
    assert accounts.revoke_token(revoked)
    stored(expired).expires_at = utcnow() - dt.timedelta(seconds=1)
    db.session.commit()
    assert [me(kept), me(revoked), me(expired), me("not-a-token")] == [200, 401, 401, 401]
    user.active = False
    db.session.commit()
    assert me(kept) == 401
