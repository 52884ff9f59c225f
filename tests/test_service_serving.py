"""How ``chanjiao serve`` runs uvicorn: every accepted connection has Nagle's algorithm off.

Proves: on a listening socket bound as uvicorn's ``--workers N`` supervisor binds it (``proto`` 0), the protocol
``serve`` uses sets TCP_NODELAY on the accepted connection, where uvicorn's own protocol leaves it off (the
+40 ms per keep-alive answer that ``--workers 2`` had); real sockets, a real uvicorn server in a thread.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

uvicorn = pytest.importorskip("uvicorn")

from uvicorn.protocols.http.h11_impl import H11Protocol  # noqa: E402

from engine.service.serving import NoDelayH11Protocol, http_protocol  # noqa: E402


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _accepted_nodelay(protocol: type) -> int:
    """TCP_NODELAY on the server's side of one connection accepted through a socket bound with ``proto`` 0."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # proto 0, as uvicorn's Config.bind_socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    # asyncio's loop: the one whose proto check the class works around (uvloop decides by family)
    server = uvicorn.Server(uvicorn.Config(_app, http=protocol, loop="asyncio", lifespan="off", log_level="error"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert client.recv(4096).startswith(b"HTTP/1.1 200")
            (conn,) = list(server.server_state.connections)
            return int(conn.transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()


@pytest.mark.parametrize("protocol", [NoDelayH11Protocol, http_protocol()], ids=lambda p: p.__name__)
def test_serve_protocols_turn_nagle_off_on_a_workers_socket(protocol: type) -> None:
    assert _accepted_nodelay(protocol) != 0


def test_uvicorns_own_protocol_leaves_nagle_on_there() -> None:
    """The control: on the same kind of socket uvicorn's own protocol leaves Nagle on (asyncio sets TCP_NODELAY
    only when the socket's ``proto`` is IPPROTO_TCP; Kludex/uvicorn#3149), so the test above can fail."""
    assert _accepted_nodelay(H11Protocol) == 0

