"""Every error of the API answers JSON {code, status, message, errors?}, never an HTML page."""
from __future__ import annotations

from http import HTTPStatus

from flask import Flask, jsonify, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from exchange.domain.errors import DomainError

# What people read, per status, in their language; machine codes stay English.
_MESSAGES = {
    400: lambda: _("Requête mal formée."),
    401: lambda: _("Connexion requise."),
    403: lambda: _("Accès refusé."),
    404: lambda: _("Introuvable."),
    405: lambda: _("Méthode non autorisée."),
    409: lambda: _("Conflit avec l'état actuel."),
    413: lambda: _("Requête trop volumineuse."),
    415: lambda: _("Type de contenu non pris en charge."),
    422: lambda: _("Certaines valeurs sont invalides."),
    429: lambda: _("Trop de tentatives : réessayez plus tard."),
    500: lambda: _("Erreur interne : l'équipe a été prévenue."),
}
_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid", 429: "too_many_requests",
          500: "internal_error"}


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def error_body(status: int, *, code: str | None = None, message=None, errors=None, **extra) -> dict:
    """flask-smorest's error shape ({code: HTTP status, status: its name, message, errors?}), plus
    `error`, a stable machine-readable reason such as `stock_short` or `ambiguous_postcode`."""
    body = {"code": status, "status": HTTPStatus(status).phrase, "error": code or _CODES.get(status, "error"),
            "message": str(message) if message is not None else _MESSAGES.get(status, lambda: "Error")()}
    if errors:
        body["errors"] = errors
    body.update(extra)
    return body


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http(exc)
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        if not is_api_request():
            raise exc
        return jsonify(error_body(500)), 500

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        body = error_body(exc.status, code=exc.code, message=exc.message, errors=exc.errors, **exc.extra)
        response = jsonify(body)
        if "retry_after_s" in exc.extra:
            response.headers["Retry-After"] = str(exc.extra["retry_after_s"])
        return response, exc.status

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        if not is_api_request():
            return exc
        return jsonify(error_body(400, code="csrf", message=_("Jeton CSRF manquant ou invalide."))), 400

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if not is_api_request():
            return exc
        data = getattr(exc, "data", None) or {}
        errors = data.get("messages")  # webargs' field-level messages
        status = exc.code or 500
        message = _MESSAGES[status]() if status in _MESSAGES else exc.description
        response = jsonify(error_body(status, errors=errors, message=message))
        response.status_code = status
        for name, value in (exc.get_response().headers.items() if status in (405, 429) else ()):
            if name.lower() in ("allow", "retry-after"):
                response.headers[name] = value
        return response


class ErrorOut(Schema):
    """Every error answer of the API."""

    code = fields.Integer(required=True, metadata={"description": "The HTTP status code"})
    status = fields.String(required=True, metadata={"description": "The HTTP status name"})
    error = fields.String(required=True, metadata={"description": "Machine-readable reason, e.g. stock_short"})
    message = fields.String(required=True, metadata={"description": "For people, in their language"})
    errors = fields.Dict(metadata={"description": "Field-level messages, keyed by location then field"})
    choices = fields.List(fields.Dict(), metadata={"description": "Possible answers, e.g. communes of a postcode"})
