"""Real Carreau server processes for tests and benchmarks: `flask --app wsgi serve` on a free local port.

    with LiveServer(database_url, redis_url=None) as server:
        requests.get(server.url + "/healthz")
        server.cli("users", "create", ...)   # a flask command against the same database

`prepare_database(url)` runs the migrations first, as `make run` does. Servers bind 127.0.0.1
on a port the OS hands out, never a fixed one. The feed tests, the benchmarks and the browser
tests (tests/browser/conftest.py) all start their servers this way.
"""
from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent


_NOT_INHERITED = {"TEST_DATABASE_URL", "DATABASE_URL", "REDIS_URL", "SOCKETIO_CHANNEL", "CARREAU_ENV", "PORT"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(database_url: str, redis_url: str | None = None, channel: str | None = None, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    env |= {"DATABASE_URL": database_url, "SECRET_KEY": "live-server-test-secret-" + "x" * 16,
            "RATELIMIT_STORAGE_URI": "memory://", "PYTHONUNBUFFERED": "1"}
    if redis_url:
        env["REDIS_URL"] = redis_url
    if channel:
        env["SOCKETIO_CHANNEL"] = channel
    return env | {k: str(v) for k, v in extra.items()}


def flask_command(database_url: str, *args: str, timeout_s: float = 120, **env) -> subprocess.CompletedProcess:
    """`flask --app wsgi <args>` against this database, as an operator would run it; `env` as for `server_env`
    (a `LiveServer` passes its own, so that its commands see what its server sees)."""
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,
                          env=server_env(database_url, **env), capture_output=True, text=True, timeout=timeout_s)


def prepare_database(database_url: str) -> None:
    """Build the schema with the migrations, as a deployment would."""
    flask_command(database_url, "db", "upgrade").check_returncode()


@contextmanager
def fresh_database(directory: Path, pg_url: str | None = None) -> Iterator[str]:
    """A migrated database of its own: a SQLite file in `directory`, or a new PostgreSQL database
    beside `pg_url` (TEST_DATABASE_URL), dropped afterwards, so that servers never share the test schema."""
    if not pg_url:
        url = f"sqlite:///{Path(directory) / 'live.sqlite3'}"
        prepare_database(url)
        yield url
        return
    from sqlalchemy import create_engine, text

    name = f"carreau_live_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = pg_url.rsplit("/", 1)[0] + "/" + name
        prepare_database(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


class LiveServer:
    """One `flask serve` process; `url` once it answers /healthz."""

    def __init__(self, database_url: str, redis_url: str | None = None, channel: str | None = None,
                 startup_timeout_s: float = 60.0, server: str = "flask", threads: int = 200,
                 port: int | None = None, **env):
        """`server`: "flask" (`flask serve`), "gunicorn-threads" (one threaded worker) or
        "gunicorn-gevent" (one gevent worker, as in production). `port`: a given one (to restart a
        server where its clients expect it), else a free one."""
        self.server = server
        self.threads = threads  # gunicorn-threads: each websocket holds one of them
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._database_url = database_url
        self._env = {"redis_url": redis_url, "channel": channel, **env}  # server_env's arguments besides the URL
        self._timeout = startup_timeout_s
        self._log = tempfile.NamedTemporaryFile(prefix="carreau-server-", suffix=".log", delete=False)
        self.process: subprocess.Popen | None = None

    def start(self) -> "LiveServer":
        if self.server == "gunicorn-threads":
            command = ["-m", "gunicorn", "-w", "1", "--threads", str(self.threads),
                       "--worker-connections", str(self.threads), "-b", f"127.0.0.1:{self.port}", "wsgi:app"]
            self._env["SOCKETIO_ASYNC_MODE"] = "threading"
        elif self.server == "gunicorn-gevent":
            command = ["-m", "gunicorn", "-k", "gevent", "-w", "1", "--worker-connections", "20000",
                       "-b", f"127.0.0.1:{self.port}", "wsgi:app"]
            self._env["SOCKETIO_ASYNC_MODE"] = "gevent"
        else:
            command = ["-m", "flask", "--app", "wsgi", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        # A session of its own: stop() can then end gunicorn's worker too, not only its master.
        self.process = subprocess.Popen([sys.executable, *command], cwd=ROOT,
                                        env=server_env(self._database_url, **self._env), stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not answer /healthz within {self._timeout} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no flush, as a crash or an OOM kill would do."""
        if self.process is not None and self.process.poll() is None:
            try:  # the whole group: a gunicorn worker dies with its master
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(10)

    def cli(self, *args: str) -> str:
        """Run `flask --app wsgi <args>` against this server's database (before or after `start`); its output."""
        done = flask_command(self._database_url, *args, timeout_s=300, **self._env)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        # A gunicorn worker still closing thousands of websockets outlives a master killed after 10 s;
        # left running, it would take the CPU from whatever is measured next.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        return "\n".join(Path(self._log.name).read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> "LiveServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        Path(self._log.name).unlink(missing_ok=True)


class PrivateRedis:
    """A throw-away redis-server on its own port, no persistence."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> "PrivateRedis":
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                         "--save", "", "--appendonly", "no"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return self
            except redis.RedisError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.kill()
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)


# --- clients -------------------------------------------------------------------------------------

PASSWORD = "live-server-password"


def sign_up(url: str, role: str, **fields) -> tuple[dict, str, dict]:
    """Register an account over HTTP and get a token: (headers, token, user)."""
    import uuid

    import requests

    email = f"{role}-{uuid.uuid4().hex[:10]}@example.org"
    body = {"email": email, "password": PASSWORD, "role": role, "name": f"Live {role}"} | fields
    answer = requests.post(url + "/api/v1/auth/register", json=body, timeout=30)
    answer.raise_for_status()
    answer = requests.post(url + "/api/v1/auth/tokens", json={"email": email, "password": PASSWORD}, timeout=30)
    answer.raise_for_status()
    token = answer.json()["token"]
    return {"Authorization": f"Bearer {token}"}, token, answer.json()["user"]


def post_lot(url: str, headers: dict, farm_id: int, product: str, quantity: float = 30) -> dict:
    """A vegetables lot of `quantity` kg at 2.80 €/kg for two days, posted over HTTP."""
    import requests

    until = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).isoformat()
    answer = requests.post(url + "/api/v1/lots", headers=headers, timeout=30, json={
        "farm_id": farm_id, "product": product, "category": "vegetables", "unit": "kg", "quantity": quantity,
        "price_cents": 280, "available_until": until})
    assert answer.status_code == 201, answer.text
    return answer.json()


def setup_exchange(url: str) -> tuple[dict, int, str, int]:
    """A producer with a farm in Cahors and a trader watching 25 km around Cahors: (producer headers, farm id, trader token, watch id)."""
    import requests

    p_headers, _, _ = sign_up(url, "producer")
    farm = requests.post(url + "/api/v1/farms", headers=p_headers, timeout=30,
                         json={"name": "Ferme du Causse", "postcode": "46000"})
    assert farm.status_code == 201, farm.text
    t_headers, t_token, _ = sign_up(url, "trader", base={"postcode": "46000"})
    watch = requests.post(url + "/api/v1/watches", headers=t_headers, timeout=30,
                          json={"radius_km": 25, "categories": ["vegetables"]})
    assert watch.status_code == 201, watch.text
    return p_headers, farm.json()["id"], t_token, watch.json()["id"]


class FeedListener:
    """A python-socketio client on /feed over a real websocket, keeping every event it receives.

    With `reconnect`, it behaves as docs/feed.md asks of a client: it keeps the last `seq` received
    (or `ready.last_seq`) and reconnects with it as `since` whenever the connection drops.
    """

    EVENTS = ("lot", "reservation", "ready", "resync")

    def __init__(self, url: str, token: str, since: int | None = None, timeout_s: float = 10.0,
                 reconnect: bool = False):
        import threading

        import socketio

        self.received: list[tuple[str, dict, float]] = []  # (event, data, time.perf_counter() on arrival)
        self.last_seq = since
        self._token = token
        self._changed = threading.Condition()
        self.sio = socketio.Client(reconnection=reconnect, reconnection_delay=0.5, reconnection_delay_max=1)
        for name in self.EVENTS:
            self.sio.on(name, self._keeper(name), namespace="/feed")
        self.sio.connect(url, namespaces=["/feed"], transports=["websocket"], auth=self._auth, wait_timeout=timeout_s)

    def _auth(self) -> dict:
        """Called on every (re)connection: resume from the last position known."""
        return {"token": self._token} | ({"since": self.last_seq} if self.last_seq is not None else {})

    def _keeper(self, name):
        def keep(data):
            arrived = time.perf_counter()
            with self._changed:
                self.received.append((name, data, arrived))
                seq = data.get("last_seq") if name in ("ready", "resync") else data.get("seq")
                if seq is not None:
                    self.last_seq = max(seq, self.last_seq or 0)
                self._changed.notify_all()
        return keep

    def events(self, name: str) -> list[dict]:
        return [data for event, data, _ in list(self.received) if event == name]

    def wait_for(self, name: str, count: int = 1, timeout_s: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while len(self.events(name)) < count and time.monotonic() < deadline:
                self._changed.wait(max(0.0, deadline - time.monotonic()))
        return self.events(name)

    def close(self) -> None:
        """Disconnect, or stop reconnecting."""
        self.sio.shutdown()
