"""Configuration, read from the environment. `create_app(config)` takes one of these classes or a dict."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"

_DEV_SECRET = "dev-only-insecure-key-change-me"


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE / 'carreau.sqlite3'}"
    # Heroku-style URLs and bare postgresql:// both mean psycopg 3 here.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", _DEV_SECRET)
    SQLALCHEMY_DATABASE_URI = _database_url()
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}  # completed by configure_pool (exchange/__init__.py)
    # PostgreSQL: a pooled connection idle longer than this is pinged before use (exchange/models/postgres.py).
    DATABASE_PING_AFTER_IDLE_S = _env_int("DATABASE_PING_AFTER_IDLE_S", 30)
    # A server database's pool per process (see configure_pool in exchange/__init__.py).
    DATABASE_POOL_SIZE = _env_int("DATABASE_POOL_SIZE", 10)
    DATABASE_MAX_OVERFLOW = _env_int("DATABASE_MAX_OVERFLOW", 10)
    REDIS_URL = os.environ.get("REDIS_URL") or None
    PORT = _env_int("PORT", 5000)
    # How many reverse proxies in front set X-Forwarded-For/-Proto/-Host (nginx: 1). 0: the headers are ignored,
    # as they must be when clients can reach the server directly (they could forge them).
    PROXY_HOPS = _env_int("PROXY_HOPS", 0)

    # API and its OpenAPI description (flask-smorest)
    API_TITLE = "Carreau"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"
    OPENAPI_SWAGGER_UI_URL = "/static/vendor/swagger-ui/"
    OPENAPI_REDOC_PATH = None
    MAX_CONTENT_LENGTH = 1 * 1024 * 1024  # 1 MiB: no form or JSON body of ours is anywhere near it

    # Accounts
    ARGON2_PARAMETERS = {"time_cost": 3, "memory_cost": 65536, "parallelism": 4}
    TOKEN_TTL_DAYS = _env_int("TOKEN_TTL_DAYS", 30)
    # How long a process remembers which user a bearer token belongs to (exchange/domain/accounts.py): a revocation
    # or a deactivation made elsewhere takes effect within this delay; 0 checks the database on every call.
    TOKEN_CACHE_SECONDS = _env_int("TOKEN_CACHE_SECONDS", 5)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or os.environ.get("REDIS_URL") or "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    # Redis down: the limits still hold, counted in each process's memory until Redis answers again,
    # rather than every rate-limited route (login, tokens, sign-up) answering 500.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    LOGIN_RATE_LIMIT_ACCOUNT = os.environ.get("LOGIN_RATE_LIMIT_ACCOUNT", "10 per 15 minutes")
    LOGIN_RATE_LIMIT_ADDRESS = os.environ.get("LOGIN_RATE_LIMIT_ADDRESS", "50 per 15 minutes")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"

    # People
    BABEL_DEFAULT_LOCALE = "fr"
    BABEL_DEFAULT_TIMEZONE = "Europe/Paris"
    LANGUAGES = ("fr", "en")

    # Geography
    GEOCODER = os.environ.get("GEOCODER", "gazetteer")  # or "ban" for street-level precision online
    GEOCODER_TIMEOUT_S = float(os.environ.get("GEOCODER_TIMEOUT_S", "3"))

    # Exchange rules
    HOLD_MINUTES = _env_int("HOLD_MINUTES", 30)
    NO_SHOW_GRACE_MINUTES = _env_int("NO_SHOW_GRACE_MINUTES", 120)
    FEED_RETENTION_DAYS = _env_int("FEED_RETENTION_DAYS", 7)
    # "background": after commit, events go on a queue that one task per process delivers, so the
    # request does not wait for the fan-out; "inline": delivered in the committing thread. See docs/feed.md.
    FEED_DELIVERY = os.environ.get("FEED_DELIVERY", "background")
    FEED_DELIVERY_QUEUE = _env_int("FEED_DELIVERY_QUEUE", 10_000)  # batches waiting before commits wait too
    REPORT_MIN_PRODUCERS = _env_int("REPORT_MIN_PRODUCERS", 3)

    # Processes
    # Always explicit (SocketIO() would pick gevent just because it is installed). Threading with
    # simple-websocket for `flask serve` and the tests (no monkey-patching); production sets gevent
    # with gunicorn's gevent worker, chosen by measurement: see docs/feed.md.
    SOCKETIO_ASYNC_MODE = os.environ.get("SOCKETIO_ASYNC_MODE", "threading")
    # Redis pub/sub channel of the Socket.IO message queue: processes of one deployment share it.
    SOCKETIO_CHANNEL = os.environ.get("SOCKETIO_CHANNEL", "carreau")
    RUN_SCHEDULER = os.environ.get("RUN_SCHEDULER", "0") == "1"
    # Engine.IO heartbeat: the server pings every SOCKETIO_PING_INTERVAL s and drops a connection
    # whose pong is SOCKETIO_PING_TIMEOUT s late. Clients are told the interval plus the grace, so a
    # ping that a busy server sends late does not make them hang up (python-engineio clients give up
    # 5 s after the announced interval). See docs/feed.md.
    SOCKETIO_PING_INTERVAL = _env_int("SOCKETIO_PING_INTERVAL", 25)
    SOCKETIO_PING_GRACE = _env_int("SOCKETIO_PING_GRACE", 20)
    SOCKETIO_PING_TIMEOUT = _env_int("SOCKETIO_PING_TIMEOUT", 20)
    # Server processes (wsgi.py) run CPython's full garbage collection every GC_FULL_EVERY_S seconds
    # instead of when it triggers itself, mid-fan-out (186 ms at 1,000 websockets); 0 keeps CPython's
    # policy. See exchange/gc_schedule.py.
    GC_FULL_EVERY_S = _env_int("GC_FULL_EVERY_S", 300)


class TestConfig(Config):
    TESTING = True
    ARGON2_PARAMETERS = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}  # fast, still argon2id
    SECRET_KEY = "test-secret"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    WTF_CSRF_ENABLED = False
    RATELIMIT_STORAGE_URI = "memory://"
    REDIS_URL = None
    RUN_SCHEDULER = False
    FEED_DELIVERY = "inline"  # a test sees the events once the request returns; tests/feed also runs "background"


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"

    @classmethod
    def check(cls) -> None:
        """Refuse to start with the development secret or a short one."""
        if cls.SECRET_KEY == _DEV_SECRET or len(cls.SECRET_KEY) < 32:
            raise RuntimeError("SECRET_KEY must be set to a random value of at least 32 characters in production")


def from_environment() -> type[Config]:
    return ProductionConfig if os.environ.get("CARREAU_ENV") == "production" else Config
