"""Geo tests run without the app and without the network.

The guard refuses every outbound connection and name lookup (loopback and Unix sockets excepted)
and fails the test that tried, even when the code under test swallowed the refusal, as geopy does.
A test that means to provoke a refusal takes the `blocked_network` fixture, checks the attempts
it lists and clears them.
"""
from __future__ import annotations

import ipaddress
import socket

import pytest


class NetworkBlocked(OSError):
    pass


def _is_local(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def blocked_network(monkeypatch):
    attempts: list[str] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def refuse(what: str):
        attempts.append(what)
        raise NetworkBlocked(f"network access in a test: {what}")

    def connect(sock, address):
        return real_connect(sock, address) if _is_local(address) else refuse(f"connect {address!r}")

    def connect_ex(sock, address):
        return real_connect_ex(sock, address) if _is_local(address) else refuse(f"connect {address!r}")

    def getaddrinfo(host, *args, **kwargs):
        if host is None or _is_local((host,)):
            return real_getaddrinfo(host, *args, **kwargs)
        return refuse(f"resolve {host!r}")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield attempts
    assert not attempts, f"the test tried to reach the network: {attempts}"
