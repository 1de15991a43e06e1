"""The `/feed` Socket.IO namespace: authenticate, then hand the connection to feed/delivery.py.

Connect with `auth={"token": <API token>, "since": <seq>?}` or, from our own pages, with the
browser's session cookie. Anything else is refused. `before_request` does not run for socket
events, so the handlers authenticate by themselves.
"""
from __future__ import annotations

from flask import request
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, Namespace

from exchange.domain import accounts
from exchange.feed import delivery
from exchange.feed.manager import NAMESPACE
from exchange.models import User


def _user(auth) -> User | None:
    token = auth.get("token") if isinstance(auth, dict) else None
    if token:
        return accounts.user_for_token(str(token))
    if current_user.is_authenticated:
        return current_user._get_current_object()
    return None


def _since(auth) -> int | None:
    since = auth.get("since") if isinstance(auth, dict) else None
    if since is None:
        return None
    if isinstance(since, bool) or not isinstance(since, int) or since < 0:
        raise ConnectionRefusedError({"code": "invalid", "message": "since must be a non-negative integer"})
    return since


class FeedNamespace(Namespace):
    def trigger_event(self, event, *args):
        # The server calls `connect` and `disconnect` while the connection is not (or no longer) fully
        # connected. A client can also send ordinary events by those names once connected: each would
        # run the handler again (a "connect" with since=0 replays the whole log to it: one packet, a
        # full scan). Those are not ours to handle.
        if event in ("connect", "disconnect") and self.server.manager.is_connected(args[0], self.namespace):
            return None
        return super().trigger_event(event, *args)

    def on_connect(self, auth=None):
        user = _user(auth)
        if user is None:
            raise ConnectionRefusedError({"code": "unauthorized", "message": "A valid token is required."})
        delivery.open_session(user, request.sid, _since(auth))

    def on_disconnect(self, reason=None):
        delivery.close_session(request.sid)


def register(socketio) -> None:
    """Serve /feed on this SocketIO server; call right after `socketio.init_app`."""
    socketio.on_namespace(FeedNamespace(NAMESPACE))
