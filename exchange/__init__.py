"""Carreau: a live wholesale exchange for short food supply chains."""
from __future__ import annotations

from flask import Flask, has_request_context, request, session
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from exchange import config as config_module
from exchange.api.fields import MAX_ID
from exchange.extensions import babel, csrf, db, limiter, login_manager, migrate, rest_api, socketio
from exchange.models import postgres as postgres_pool


def create_app(config: type | dict | None = None) -> Flask:
    app = Flask(__name__, template_folder="../templates", static_folder="../static",
                instance_path=str(config_module.INSTANCE))
    configure(app, config)
    register_extensions(app)
    register_blueprints(app)
    register_errors(app)
    register_commands(app)
    trust_proxies(app)
    return app


def trust_proxies(app: Flask) -> None:
    """Behind PROXY_HOPS reverse proxies, take the client's address, scheme and host from their X-Forwarded-*
    headers (rate limits per address, HTTPS-only cookies and HSTS depend on them); never trust them otherwise."""
    hops = app.config.get("PROXY_HOPS", 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def configure(app: Flask, config: type | dict | None) -> None:
    base = config_module.from_environment()
    app.config.from_object(base)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    if app.config.get("CARREAU_ENV") == "production" or base is config_module.ProductionConfig:
        config_module.ProductionConfig.check()
    app.config["API_SPEC_OPTIONS"] = {
        "info": {"description": "Carreau's public API (v1). See docs/api.md for the feed contract."},
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearerAuth": []}],
    }
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        config_module.INSTANCE.mkdir(parents=True, exist_ok=True)
    configure_pool(app)
    cache_long_statements(app)


def configure_pool(app: Flask) -> None:
    """A server database's pool keeps as many connections as the requests one process runs at once
    (DATABASE_POOL_SIZE, and DATABASE_MAX_OVERFLOW more under bursts): a connection opened beyond the pool is
    closed when returned, so a pool smaller than the load starts a PostgreSQL backend, which prepares its
    statements again, every few requests. Engine options set explicitly win; SQLite keeps Flask-SQLAlchemy's.

    A restarted database costs no request: pooled connections are checked before use, by `pool_pre_ping`, or on
    PostgreSQL with psycopg mostly without a round trip (exchange/models/postgres.py)."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    options.setdefault("pool_pre_ping", not postgres_pool.checks_connections(uri))
    if not uri.startswith("sqlite"):
        options.setdefault("pool_size", app.config["DATABASE_POOL_SIZE"])
        options.setdefault("max_overflow", app.config["DATABASE_MAX_OVERFLOW"])
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


# psycopg caches how it rewrites a statement's placeholders only for statements of up to 4,096 characters (a module
# constant, no setting). The reservation's single statement (exchange/domain/reservations.py, `_take_and_hold`) has
# 4,642: rewriting it on every call cost 0.15–0.2 ms of CPU a reservation. tests/unit/test_database_pool.py
# checks that psycopg caches it once the limit is raised.
PSYCOPG_CACHED_STATEMENT_LENGTH = 16_384


def cache_long_statements(app: Flask) -> None:
    """Let psycopg cache the placeholders' rewriting of statements up to PSYCOPG_CACHED_STATEMENT_LENGTH characters."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        from psycopg import _queries

        _queries.MAX_CACHED_STATEMENT_LENGTH = max(_queries.MAX_CACHED_STATEMENT_LENGTH, PSYCOPG_CACHED_STATEMENT_LENGTH)


def select_locale() -> str:
    """The signed-in user's language, else the one chosen on the pages, else the browser's; French by default."""
    languages = ["fr", "en"]
    if not has_request_context():
        return "fr"
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    if session.get("locale") in languages:
        return session["locale"]
    return request.accept_languages.best_match(languages) or "fr"


def register_extensions(app: Flask) -> None:
    from exchange.api.errors import ErrorOut
    from exchange.geo import places
    from exchange.models import sqlite as sqlite_pragmas

    db.init_app(app)
    sqlite_pragmas.install(app)
    postgres_pool.install(app)
    migrate.init_app(app, db, directory=str(config_module.ROOT / "migrations"), render_as_batch=True,
                     compare_type=True)
    login_manager.init_app(app)
    login_manager.login_view = "web.login"
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, default_translation_directories="translations")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(config_module.ROOT / "exchange" / "translations"))
    limiter.init_app(app)
    rest_api.ERROR_SCHEMA = ErrorOut
    rest_api.init_app(app)
    places.install_geocoder(app)
    register_feed(app)


def register_feed(app: Flask) -> None:
    """Socket.IO with the feed's client manager (Redis when REDIS_URL is set), then /feed and its delivery."""
    from exchange.feed import delivery, manager, namespace

    socketio.init_app(app, async_mode=app.config["SOCKETIO_ASYNC_MODE"], client_manager=manager.client_manager(app.config),
                      cors_allowed_origins=app.config.get("SOCKETIO_CORS_ORIGINS", []),
                      ping_interval=(app.config["SOCKETIO_PING_INTERVAL"], app.config["SOCKETIO_PING_GRACE"]),
                      ping_timeout=app.config["SOCKETIO_PING_TIMEOUT"])
    namespace.register(socketio)  # right after init_app: handlers registered later would miss this app
    delivery.install(app)


class DatabaseId(IntegerConverter):
    """`<int:...>` in every route: a positive id that fits the database's integer (404 beyond)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def register_blueprints(app: Flask) -> None:
    from exchange.api.access import check_api_access

    app.url_map.converters["int"] = DatabaseId
    app.before_request(check_api_access)
    from exchange.api import auth, farms, lots, places, reports, reservations, watches
    from exchange.web import health, pages

    for module in (auth, farms, lots, places, reports, reservations, watches):
        rest_api.register_blueprint(module.blp)
        csrf.exempt(module.blp)  # bearer-token API; session callers are checked in api/access.py
    app.register_blueprint(health.bp)
    pages.register(app)


def register_errors(app: Flask) -> None:
    from exchange.api.errors import register_error_handlers

    register_error_handlers(app)


def register_commands(app: Flask) -> None:
    from exchange import cli

    cli.register(app)
