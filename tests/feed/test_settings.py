"""The feed's process settings reach Socket.IO and the delivery path."""
import json

import pytest

from exchange.extensions import socketio
from exchange.feed import delivery, publish


@pytest.fixture
def app_config():
    return {"SOCKETIO_PING_INTERVAL": 25, "SOCKETIO_PING_GRACE": 20, "SOCKETIO_PING_TIMEOUT": 15}


def test_clients_are_told_the_ping_interval_plus_the_grace(app):
    """A late ping must not make clients hang up: they are told 25 + 20 s; the server keeps its own 25 s and 15 s."""
    eio = socketio.server.eio
    assert (eio.ping_interval, eio.ping_timeout) == (25, 15)
    answer = app.test_client().get("/socket.io/?EIO=4&transport=polling")
    assert answer.status_code == 200
    body = answer.get_data(as_text=True)
    assert body.startswith("0")  # Engine.IO OPEN packet
    handshake = json.loads(body[1:])
    assert (handshake["pingInterval"], handshake["pingTimeout"]) == (45_000, 15_000)


@pytest.mark.parametrize("mode", ["inline", "background"])
def test_the_delivery_mode_decides_what_runs_after_commit(tmp_path, mode):
    from exchange import create_app
    from tests.conftest import _config

    app = create_app(_config(tmp_path, None, {"FEED_DELIVERY": mode}))
    hook = app.extensions[publish.DELIVERY_KEY]
    if mode == "inline":
        assert hook is delivery.deliver and delivery.worker(app) is None
    else:
        assert hook == delivery.worker(app).submit


def test_an_unknown_delivery_mode_is_refused(tmp_path):
    from exchange import create_app
    from tests.conftest import _config

    with pytest.raises(ValueError, match="FEED_DELIVERY"):
        create_app(_config(tmp_path, None, {"FEED_DELIVERY": "sometimes"}))
