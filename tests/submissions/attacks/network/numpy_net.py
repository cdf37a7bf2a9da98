"""Connects to a port on the host's loopback (the test listens there; PORT is filled in by the test)."""
import socket

from _correct_numpy_net import *  # noqa: F403

PORT = 0  # replaced by the test

for host in ("127.0.0.1", "localhost"):
    try:
        socket.create_connection((host, PORT), timeout=0.5).sendall(b"leak")
    except OSError:
        pass
