"""The `web` blueprint: server-rendered pages for producers, traders and chambers.

Views turn a form into one domain service call and a domain error into a message on the form;
the rules stay in exchange/domain. Scripts under static/js add live updates and offline queues.
"""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from exchange.domain.errors import DomainError

bp = Blueprint("web", __name__)


# The main navigation per role: (endpoint, label, icon). Items whose page is not installed are left out.
NAV = {
    "producer": [("web.my_lots", _l("Mes lots"), "list"), ("web.lot_new", _l("Nouveau lot"), "plus"),
                 ("web.producer_reservations", _l("Réservations"), "inbox")],
    "trader": [("web.board", _l("En direct"), "radar"), ("web.watches_page", _l("Mes alertes"), "bell"),
               ("web.trader_reservations", _l("Mes réservations"), "basket")],
    "chamber": [("web.chamber_dashboard", _l("Tableau de bord"), "chart")],
    "admin": [("web.chamber_dashboard", _l("Tableau de bord"), "chart")],
}


def nav_items() -> list[tuple[str, object, str]]:
    if not current_user.is_authenticated:
        return []
    return [item for item in NAV.get(current_user.role, []) if item[0] in current_app.view_functions]


def role_required(*roles: str):
    """Only signed-in users of these roles; others are sent to sign in, or refused (403)."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def safe_next(target: str | None, default: str) -> str:
    """A redirect target on this site only (no scheme, no host), else the default."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def home_url(user) -> str:
    """A user's first page: the first item of their navigation."""
    for endpoint, _label, _icon in NAV.get(user.role, []):
        if endpoint in current_app.view_functions:
            return url_for(endpoint)
    return url_for("web.account")


def form_error(form, exc: DomainError) -> None:
    """Show a domain error on the form: on the field it names when the form has one, else above the form."""
    fields = [name.split(".")[-1] for name in (exc.errors or {})]
    for name in fields:
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + [str(exc.message)]
            return
    form.form_errors.append(str(exc.message))


@bp.get("/session/csrf")
def fresh_csrf_token():
    """A fresh CSRF token for a page's script whose token aged out while the page stayed open."""
    return {"csrf_token": generate_csrf()}


@bp.app_context_processor
def _template_context() -> dict:
    from exchange.web.js_strings import js_labels, js_strings

    return {"nav_items": nav_items, "js_strings": js_strings, "js_labels": js_labels}


def register(app: Flask) -> None:
    from exchange.web import account, chamber, errors, formatting, producer, security, trader  # noqa: F401 (routes)

    app.register_blueprint(bp)
    formatting.register(app)
    security.register(app)
    errors.register(app)
