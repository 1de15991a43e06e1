"""Security headers on every answer, and a Content-Security-Policy that our pages satisfy.

No page has inline script or style: scripts are files under static/js and take their data from
data- attributes or JSON script blocks. The per-request nonce is there for the rare script tag
a library template needs (Swagger UI's loader, see templates/swagger_ui.html).
"""
from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Flask, current_app, g, request


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def tile_origin() -> str | None:
    """The origin map tiles come from (OpenStreetMap unless MAP_TILE_URL says otherwise)."""
    url = current_app.config.get("MAP_TILE_URL") or ""
    parts = urlsplit(url.replace("{s}", "a"))
    if not parts.scheme or not parts.netloc:
        return None
    host = parts.netloc
    # {s}.tile.example.org serves from several sub-domains.
    if "{s}" in url:
        host = "*." + host.split(".", 1)[1]
    return f"{parts.scheme}://{host}"


def content_security_policy(nonce: str) -> str:
    images = "'self' data: blob:" + (f" {tile_origin()}" if tile_origin() else "")
    directives = {
        "default-src": "'self'",
        "script-src": f"'self' 'nonce-{nonce}'",
        "style-src": "'self'",
        "img-src": images,
        "font-src": "'self'",
        # 'self' covers the Socket.IO WebSocket on the same host in current browsers; ws(s) named for older ones.
        "connect-src": "'self' " + ("wss:" if request.is_secure else "ws:") + f"//{request.host}",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def _headers(response):
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "geolocation=(self), camera=(), microphone=(), payment=()")
    if response.mimetype == "text/html":
        headers.setdefault("Content-Security-Policy", content_security_policy(csp_nonce()))
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def register(app: Flask) -> None:
    app.config.setdefault("MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
    app.after_request(_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
