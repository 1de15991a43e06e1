"""A lean /feed client for the benches: Engine.IO 4 / Socket.IO 5 over a bare websocket (aiohttp).

The feed benches' clients are measurement apparatus: in production they are browsers on other
machines, but here they share the server's two cores. python-socketio's asyncio client spends more
CPU receiving an event than the server spends sending it (docs/feed.md), so the benches use this
client by default and keep python-socketio's (`BENCH_FEED_CLIENT=python-socketio`) for comparison.

It speaks only what /feed needs, straight over the websocket transport (no long-polling, no
upgrade): the Engine.IO handshake (`EIO=4&transport=websocket`), the namespace connect
`40/feed,{"token": ...}`, a pong `3` for every ping `2`, and events `42/feed,[name, data]`,
decoded with `json.loads` and handed to a callback with their arrival time. No acknowledgements,
binary events or reconnection. aiohttp parses frames in C, and each message costs one task wake-up.
"""
from __future__ import annotations

import asyncio
import json
import time
from typing import Callable
from urllib.parse import urlsplit

import aiohttp

NAMESPACE = "/feed"
_EVENT = "42/feed,"
_CONNECTED = "40/feed"
_REFUSED = "44/feed,"
_NAMESPACE_CLOSED = "41/feed"

OnEvent = Callable[[str, dict, float], None]  # (event name, data, time.monotonic() on arrival)


class Refused(ConnectionError):
    """The server refused the /feed connection (no valid token)."""


def websocket_url(server_url: str) -> str:
    parts = urlsplit(server_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}/socket.io/?EIO=4&transport=websocket"


class LeanFeedClient:
    """One /feed connection. `connect()` returns once the namespace is joined; events then go to `on_event`."""

    def __init__(self, session: aiohttp.ClientSession, server_url: str, token: str, on_event: OnEvent,
                 since: int | None = None):
        self._session = session
        self._url = websocket_url(server_url)
        self._auth = {"token": token} | ({"since": since} if since is not None else {})
        self._on_event = on_event
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task | None = None
        self.connected = False
        self.reason: str | None = None  # why the connection ended, python-socketio's words where they exist

    async def connect(self, timeout_s: float = 30) -> None:
        """Handshake and join /feed; raises `Refused` if the server says no, `TimeoutError` if it does not answer."""
        self._ws = await self._session.ws_connect(self._url, autoping=True, max_msg_size=0,
                                                  timeout=aiohttp.ClientWSTimeout(ws_close=5))
        try:
            async with asyncio.timeout(timeout_s):
                opening = await self._ws.receive_str()
                if not opening.startswith("0"):
                    raise ConnectionError(f"not an Engine.IO handshake: {opening[:40]!r}")
                await self._ws.send_str("40/feed," + json.dumps(self._auth))
                while True:
                    message = await self._ws.receive_str()
                    if message == "2":
                        await self._ws.send_str("3")
                    elif message.startswith(_CONNECTED):
                        break
                    elif message.startswith(_REFUSED):
                        raise Refused(json.loads(message[len(_REFUSED):]).get("message"))
        except BaseException:
            await self._ws.close()
            raise
        self.connected = True
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        ws, on_event = self._ws, self._on_event
        reason = "transport close"
        try:
            while True:
                message = await ws.receive()
                if message.type is not aiohttp.WSMsgType.TEXT:
                    if message.type is aiohttp.WSMsgType.ERROR:
                        reason = "transport error"
                    break
                data = message.data
                if data.startswith(_EVENT):
                    name, payload = json.loads(data[8:])
                    on_event(name, payload, time.monotonic())
                elif data == "2":
                    await ws.send_str("3")
                elif data.startswith(_NAMESPACE_CLOSED) or data == "1":
                    reason = "io server disconnect"
                    break
        except (aiohttp.ClientError, ConnectionError):
            reason = "transport error"
        finally:
            self.connected = False
            if self.reason is None:
                self.reason = reason
            await ws.close()

    async def disconnect(self) -> None:
        """Leave /feed and close the websocket."""
        if self._ws is None:
            return
        self.reason = self.reason or "client disconnect"
        if not self._ws.closed:
            try:
                await self._ws.send_str("41/feed,")
            except (aiohttp.ClientError, ConnectionError):
                pass
            await self._ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    async def closed(self) -> str | None:
        """Wait until the connection ends; why it did."""
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        return self.reason


def session() -> aiohttp.ClientSession:
    """A session for hundreds of connections (aiohttp's default pool holds at most 100)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
