"""Error pages for people: the same layout as the site, in their language, with a way back."""
from __future__ import annotations

from flask import Flask, render_template
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

_TITLES = {
    400: lambda: _("Requête incorrecte"),
    403: lambda: _("Accès refusé"),
    404: lambda: _("Page introuvable"),
    405: lambda: _("Action impossible ici"),
    409: lambda: _("Action impossible pour l'instant"),
    413: lambda: _("Envoi trop volumineux"),
    422: lambda: _("Certaines valeurs sont invalides"),
    429: lambda: _("Trop de tentatives"),
    500: lambda: _("Erreur interne"),
}
_EXPLANATIONS = {
    400: lambda: _("La page a peut-être expiré. Revenez en arrière, rechargez la page et réessayez."),
    403: lambda: _("Cette page est réservée à un autre type de compte."),
    404: lambda: _("Cette adresse ne correspond à aucune page ; le lien est peut-être ancien."),
    429: lambda: _("Par sécurité, les tentatives sont limitées. Patientez quelques minutes avant de réessayer."),
    500: lambda: _("Un problème est survenu de notre côté ; l'équipe a été prévenue."),
}


def error_page(status: int, message: str | None = None, headers=None):
    """An HTML error page with this status; `message` (already translated) replaces the default explanation."""
    title = _TITLES.get(status, lambda: _("Erreur"))()
    explanation = message or _EXPLANATIONS.get(status, lambda: "")()
    body = render_template("errors/error.html", status=status, title=title, explanation=explanation)
    return body, status, dict(headers or {})


def http_error_page(exc: HTTPException):
    headers = {k: v for k, v in exc.get_response().headers.items() if k.lower() in ("retry-after", "allow")}
    return error_page(exc.code or 500, headers=headers)


def register(app: Flask) -> None:
    # api/errors.py hands non-API requests to these (see its handlers).
    app.extensions["carreau_error_page"] = error_page
    app.extensions["carreau_http_error_page"] = http_error_page
