"""Which user a bearer token belongs to is remembered by each process for TOKEN_CACHE_SECONDS.

Without a query on a repeated call; never beyond the token's own expiry; changes made by this process to the user
or its tokens take effect at once; changes made by another process (here: a separate connection, outside the
app's session) within the delay.
"""
import datetime as dt
import time

import pytest
from sqlalchemy import create_engine, event, update

from exchange.domain import accounts
from exchange.extensions import db
from exchange.models import ApiToken, User
from exchange.models.accounts import hash_token
from exchange.models.types import utcnow

API = "/api/v1"


@pytest.fixture
def app_config():
    return {"TOKEN_CACHE_SECONDS": 1}


@pytest.fixture
def queries(app):
    """The SQL statements the app sends to the database, as they are sent."""
    sent = []

    def record(conn, cursor, statement, *args):
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    yield sent
    event.remove(db.engine, "before_cursor_execute", record)


def token_queries(sent):
    return [s for s in sent if "api_tokens" in s]


def me(client, token):
    return client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})


def from_elsewhere(app, statement):
    """What another process would do: its own connection, not this app's session."""
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with engine.begin() as conn:
        conn.execute(statement)
    engine.dispose()


def test_a_repeated_call_does_not_query_the_token(client, make_user, queries):
    user = make_user("trader", name="Louise")
    token = accounts.issue_token(user)
    queries.clear()
    first, second = me(client, token), me(client, token)
    assert first.status_code == second.status_code == 200
    assert first.json == second.json and second.json["name"] == "Louise"
    assert len(token_queries(queries)) == 1


def test_without_a_cache_every_call_queries_the_token(app, client, make_user, queries):
    app.config["TOKEN_CACHE_SECONDS"] = 0
    token = accounts.issue_token(make_user("trader"))
    queries.clear()
    assert [me(client, token).status_code for _ in range(3)] == [200, 200, 200]
    assert len(token_queries(queries)) == 3


def test_changes_made_here_take_effect_at_once(client, make_user):
    user = make_user("trader", name="Louise")
    kept, revoked = accounts.issue_token(user), accounts.issue_token(user)
    assert me(client, kept).status_code == me(client, revoked).status_code == 200

    assert client.delete(f"{API}/auth/tokens", headers={"Authorization": f"Bearer {revoked}"}).status_code == 204
    assert me(client, revoked).status_code == 401

    assert client.patch(f"{API}/me", json={"name": "Louise Martin"},
                        headers={"Authorization": f"Bearer {kept}"}).status_code == 200
    assert me(client, kept).json["name"] == "Louise Martin"

    db.session.get(User, user.id).active = False
    db.session.commit()
    assert me(client, kept).status_code == 401


def test_changes_made_elsewhere_take_effect_within_the_delay(app, client, make_user):
    user = make_user("trader")
    token = accounts.issue_token(user)
    assert me(client, token).status_code == 200
    from_elsewhere(app, update(ApiToken.__table__).where(ApiToken.__table__.c.user_id == user.id)
                   .values(revoked_at=utcnow()))
    assert me(client, token).status_code == 200  # remembered, for at most TOKEN_CACHE_SECONDS
    time.sleep(app.config["TOKEN_CACHE_SECONDS"] + 0.1)
    assert me(client, token).status_code == 401


def test_a_remembered_token_is_refused_once_it_expires(client, make_user):
    token = accounts.issue_token(make_user("trader"))
    row = db.session.query(ApiToken).filter_by(token_hash=hash_token(token)).one()
    row.expires_at = utcnow() + dt.timedelta(milliseconds=300)
    db.session.commit()
    assert me(client, token).status_code == 200
    time.sleep(0.4)
    assert me(client, token).status_code == 401
