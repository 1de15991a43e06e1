"""Real Carreau server processes for tests and benchmarks: `flask --app wsgi serve` on a free local port.

    with LiveServer(database_url, redis_url=None) as server:
        requests.get(server.url + "/healthz")

`prepare_database(url)` runs the migrations first, as `make run` does. Servers bind 127.0.0.1
on a port the OS hands out, never a fixed one.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

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


def prepare_database(database_url: str) -> None:
    """Build the schema with the migrations, as a deployment would."""
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT,
                   env=server_env(database_url), check=True, capture_output=True, timeout=120)


class LiveServer:
    """One `flask serve` process; `url` once it answers /healthz."""

    def __init__(self, database_url: str, redis_url: str | None = None, channel: str | None = None,
                 startup_timeout_s: float = 60.0, server: str = "flask", threads: int = 200, **env):
        """`server`: "flask" (`flask serve`), "gunicorn-threads" (one threaded worker) or
        "gunicorn-gevent" (one gevent worker, as in production)."""
        self.server = server
        self.threads = threads  # gunicorn-threads: each websocket holds one of them
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = server_env(database_url, redis_url, channel, **env)
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
        self.process = subprocess.Popen([sys.executable, *command], cwd=ROOT, env=self._env, stdout=self._log,
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


class FeedListener:
    """A python-socketio client on /feed over a real websocket, keeping every event it receives."""

    EVENTS = ("lot", "reservation", "ready", "resync")

    def __init__(self, url: str, token: str, since: int | None = None, timeout_s: float = 10.0):
        import threading

        import socketio

        self.received: list[tuple[str, dict, float]] = []  # (event, data, time.perf_counter() on arrival)
        self._changed = threading.Condition()
        self.sio = socketio.Client(reconnection=False)
        for name in self.EVENTS:
            self.sio.on(name, self._keeper(name), namespace="/feed")
        auth = {"token": token} | ({"since": since} if since is not None else {})
        self.sio.connect(url, namespaces=["/feed"], transports=["websocket"], auth=auth, wait_timeout=timeout_s)

    def _keeper(self, name):
        def keep(data):
            arrived = time.perf_counter()
            with self._changed:
                self.received.append((name, data, arrived))
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
        if self.sio.connected:
            self.sio.disconnect()
