"""Who is calling: bearer tokens for API clients, the Flask-Login session for our own pages."""
from __future__ import annotations

from flask import abort, request
from flask_login import current_user

from exchange.domain import accounts
from exchange.extensions import csrf, login_manager
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


def public(method):
    """Mark an API method as open to anonymous callers (sign-up, sign-in)."""
    method._carreau_public = True
    return method


def roles(*names: Role | str):
    """Mark an API method as reserved to these roles; checked before the body is even parsed."""

    def mark(method):
        method._carreau_roles = tuple(r.value if isinstance(r, Role) else r for r in names)
        return method

    return mark


def _view_method(endpoint: str | None):
    from flask import current_app

    view = current_app.view_functions.get(endpoint) if endpoint else None
    view_class = getattr(view, "view_class", None)
    return getattr(view_class, request.method.lower(), None) if view_class else view


def check_api_access():
    """Before any API view: 401 for anonymous callers, 403 for a role the method does not admit.

    Done before flask-smorest parses the body, so that a stranger learns nothing from validation
    errors and every route is closed unless it says otherwise (@public).
    """
    if not request.path.startswith("/api/v1/") or request.path in ("/api/v1/openapi.json",) \
            or request.path.startswith("/api/v1/docs") or request.method == "OPTIONS":
        return None
    method = _view_method(request.endpoint)
    if method is None or getattr(method, "_carreau_public", False):
        return None
    if not current_user.is_authenticated:
        abort(401)
    allowed = getattr(method, "_carreau_roles", None)
    if allowed and not current_user.has_role(*allowed):
        abort(403)
    return None
