"""Accounts: registration, passwords, API tokens, profiles."""
from __future__ import annotations

import datetime as dt
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select

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


# One indexed query on every API call: the user of a valid token, found by the token's digest (built once,
# compiled once). The user alone is loaded as an object: a joined eager load of the token cost more CPU than the query.
_USER_OF_VALID_TOKEN = (select(User).join(ApiToken, ApiToken.user_id == User.id)
                        .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None),
                               ApiToken.expires_at > bindparam("now", type_=UTCDateTime()), User.active.is_(True)))


def user_for_token(token: str) -> User | None:
    """The active user a bearer token belongs to, if the token is valid and not revoked."""
    return db.session.scalar(_USER_OF_VALID_TOKEN, {"token_hash": hash_token(token), "now": utcnow()})


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
