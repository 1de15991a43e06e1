"""Accounts: registration, passwords, API tokens, profiles."""
from __future__ import annotations

import datetime as dt
import secrets
import threading
import weakref
from dataclasses import dataclass
from typing import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cachetools import TTLCache
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, event, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from exchange.domain.errors import Conflict, InvalidInput
from exchange.extensions import db
from exchange.models import ApiToken, Role, User
from exchange.models.accounts import hash_token
from exchange.models.types import UTCDateTime, utcnow

# argon2id hashers by cost parameters, each with the hash verified when an e-mail is unknown (so that
# a wrong e-mail costs as long as a wrong password and does not tell which accounts exist).
_hashers: dict[tuple, tuple[PasswordHasher, str]] = {}


def _hasher_and_dummy() -> tuple[PasswordHasher, str]:
    params = current_app.config["ARGON2_PARAMETERS"]
    key = tuple(sorted(params.items()))
    if key not in _hashers:
        hasher = PasswordHasher(**params)
        _hashers[key] = (hasher, hasher.hash("not a real password"))
    return _hashers[key]


def _hasher() -> PasswordHasher:
    """argon2id with the configured cost (ARGON2_PARAMETERS; cheap in tests)."""
    return _hasher_and_dummy()[0]


def _dummy_hash() -> str:
    return _hasher_and_dummy()[1]
MIN_PASSWORD_LENGTH = 10


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(_l("Le mot de passe doit compter au moins %(n)s caractères.", n=MIN_PASSWORD_LENGTH),
                           errors={"password": [f"Shorter than {MIN_PASSWORD_LENGTH} characters."]})


def create_user(*, email: str, password: str, role: Role | str, name: str, phone: str | None = None,
                locale: str = "fr", territory: list[str] | None = None, base: dict | None = None) -> User:
    """Create an account; e-mails are unique whatever their case."""
    role = Role(role)
    email = normalize_email(email)
    check_password_strength(password)
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(_l("Un compte existe déjà avec cette adresse e-mail."), code="email_taken",
                       errors={"email": ["Already registered."]})
    user = User(email=email, password_hash=_hasher().hash(password), role=role.value, name=name.strip(),
                phone=phone, locale=locale, territory=list(territory or []))
    if base:
        set_base(user, base)
    db.session.add(user)
    db.session.commit()
    return user


def register(*, email: str, password: str, role: str, name: str, phone: str | None = None,
             locale: str = "fr", base: dict | None = None) -> User:
    """Self-service sign-up is for producers and traders; chambers and admins are created by an operator."""
    if role not in (Role.producer.value, Role.trader.value):
        raise InvalidInput(_l("Rôle inconnu."), errors={"role": ["Must be producer or trader."]})
    return create_user(email=email, password=password, role=role, name=name, phone=phone, locale=locale, base=base)


def authenticate(email: str, password: str) -> User | None:
    """The user whose e-mail and password these are, or None; slow on purpose either way (argon2)."""
    user = db.session.scalar(select(User).where(User.email == normalize_email(email)))
    try:
        _hasher().verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = _hasher().hash(password)
        db.session.commit()
    return user


def issue_token(user: User) -> str:
    """A new bearer token for the API; only its digest is stored, so it is shown once."""
    token = secrets.token_urlsafe(32)
    ttl = dt.timedelta(days=current_app.config["TOKEN_TTL_DAYS"])
    db.session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), expires_at=utcnow() + ttl))
    db.session.commit()
    return token


# One indexed query on an API call whose token is not in the cache: the user of a valid token, found by the token's
# digest (built once, compiled once), with the token's expiry. The user alone is loaded as an object: a joined eager
# load of the token cost more CPU than the query.
_USER_OF_VALID_TOKEN = (select(User, ApiToken.expires_at).join(ApiToken, ApiToken.user_id == User.id)
                        .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None),
                               ApiToken.expires_at > bindparam("now", type_=UTCDateTime()), User.active.is_(True)))
_USER_COLUMNS = tuple(attribute.key for attribute in sa_inspect(User).column_attrs)


@dataclass(frozen=True)
class _Known:
    """A valid token's user as read, and until when the token itself is valid."""
    user_id: int
    columns: dict
    token_expires_at: dt.datetime


class TokenCache:
    """Which user a bearer token belongs to, remembered for TOKEN_CACHE_SECONDS by each process.

    The check is a query on every API call otherwise: a fifth of a reservation's CPU. An entry is dropped as soon as
    this process changes the user or a token (any ORM flush that touches them), and never outlives its token; a
    revocation or a deactivation made by another process is seen there within TOKEN_CACHE_SECONDS (0: no cache)."""

    def __init__(self, seconds: float, size: int = 10_000):
        self._entries: TTLCache = TTLCache(maxsize=size, ttl=seconds)
        self._lock = threading.Lock()

    def get(self, token_hash: str) -> _Known | None:
        with self._lock:
            known = self._entries.get(token_hash)
        return known if known is not None and known.token_expires_at > utcnow() else None

    def put(self, token_hash: str, known: _Known) -> None:
        with self._lock:
            self._entries[token_hash] = known

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def forget(self, *, token_hashes: Iterable[str] = (), user_ids: Iterable[int] = ()) -> None:
        token_hashes, user_ids = set(token_hashes), set(user_ids)
        with self._lock:
            for token_hash, known in list(self._entries.items()):
                if token_hash in token_hashes or known.user_id in user_ids:
                    del self._entries[token_hash]


_caches: weakref.WeakSet[TokenCache] = weakref.WeakSet()  # every live app's: a change is forgotten in all


def _token_cache() -> TokenCache | None:
    seconds = current_app.config["TOKEN_CACHE_SECONDS"]
    if seconds <= 0:
        return None
    cache = current_app.extensions.get("carreau_token_cache")
    if cache is None:
        cache = current_app.extensions["carreau_token_cache"] = TokenCache(seconds)
        _caches.add(cache)
    return cache


def user_for_token(token: str) -> User | None:
    """The active user a bearer token belongs to, if the token is valid and not revoked."""
    token_hash, cache = hash_token(token), _token_cache()
    known = cache.get(token_hash) if cache is not None else None
    if known is not None:
        present = db.session.identity_map.get(identity_key(User, known.user_id))
        if present is not None:
            return present
        # As if loaded: the request sees the user as read at most TOKEN_CACHE_SECONDS ago, without a query.
        user = User(**{name: list(value) if isinstance(value, list) else value
                       for name, value in known.columns.items()})
        make_transient_to_detached(user)
        db.session.add(user)
        return user
    found = db.session.execute(_USER_OF_VALID_TOKEN, {"token_hash": token_hash, "now": utcnow()}).one_or_none()
    if found is None:
        return None
    user, expires_at = found
    if cache is not None:
        cache.put(token_hash, _Known(user.id, {name: getattr(user, name) for name in _USER_COLUMNS}, expires_at))
    return user


@event.listens_for(Session, "after_flush")
def _forget_changed_accounts(session: Session, _context) -> None:
    """A user or a token changed by this process is read again on its next call (dropped at the flush, before the
    commit: at worst one more query)."""
    if not _caches:
        return
    changed = [obj for obj in (*session.dirty, *session.deleted) if isinstance(obj, (User, ApiToken))]
    if not changed:
        return
    user_ids = {obj.id for obj in changed if isinstance(obj, User)}
    token_hashes = {obj.token_hash for obj in changed if isinstance(obj, ApiToken)}
    for cache in list(_caches):
        cache.forget(token_hashes=token_hashes, user_ids=user_ids)


@event.listens_for(Session, "do_orm_execute")
def _forget_on_bulk_change(state) -> None:
    """An UPDATE or DELETE statement on users or tokens (not through objects): forget every token."""
    if _caches and (state.is_update or state.is_delete) and \
            getattr(state.statement, "table", None) in (User.__table__, ApiToken.__table__):
        for cache in list(_caches):
            cache.clear()


def revoke_token(token: str) -> bool:
    """Revoke a bearer token (sign out of an API client)."""
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    db.session.commit()
    return True


def set_base(user: User, base: dict) -> None:
    """A trader's base: from a postcode (and commune) through the geocoder, or explicit coordinates."""
    from exchange.geo import places

    place = places.locate(postcode=base.get("postcode"), commune=base.get("commune"),
                          lat=base.get("lat"), lon=base.get("lon"), field="base")
    user.base_postcode, user.base_commune, user.base_insee = place.postcode, place.commune, place.insee
    user.base_lat, user.base_lon = place.lat, place.lon


def update_profile(user: User, changes: dict) -> User:
    """Change one's own name, phone, language, password or base."""
    if "password" in changes:
        check_password_strength(changes["password"])
        user.password_hash = _hasher().hash(changes.pop("password"))
    if "base" in changes:
        base = changes.pop("base")
        if base is None:
            user.base_postcode = user.base_commune = user.base_insee = None
            user.base_lat = user.base_lon = None
        else:
            set_base(user, base)
    for field in ("name", "phone", "locale"):
        if field in changes:
            setattr(user, field, changes[field])
    db.session.commit()
    return user
