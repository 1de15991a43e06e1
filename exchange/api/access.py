"""Who is calling: bearer tokens for API clients, the Flask-Login session for our own pages."""
from __future__ import annotations

from flask import abort, request
from flask_login import current_user

from exchange.domain import accounts
from exchange.extensions import csrf, db, login_manager
from exchange.models import Role, User

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


@login_manager.request_loader
def _load_from_bearer(req) -> User | None:
    token = bearer_token()
    return accounts.user_for_token(token) if token else None


@login_manager.user_loader
def _load_from_session(user_id: str) -> User | None:
    """The user of a Flask-Login session (our pages, and the feed's Socket.IO handshake); a deactivated account is out."""
    try:
        user = db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None
    return user if user is not None and user.active else None


def signed_in() -> User:
    """The calling user; 401 when nobody is signed in.

    A page's script that calls the API with the session cookie must send the CSRF token, as forms do:
    a cookie alone must not be enough to act on someone's behalf.
    """
    if not current_user.is_authenticated:
        abort(401)
    if request.method in UNSAFE_METHODS and bearer_token() is None:
        csrf.protect()
    return current_user._get_current_object()


def with_role(*roles: Role | str) -> User:
    """The calling user if their role is one of these; 403 otherwise."""
    user = signed_in()
    if not user.has_role(*roles):
        abort(403, description="Your role does not allow this.")
    return user
