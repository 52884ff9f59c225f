"""How ``chanjiao serve`` runs the app on uvicorn: the HTTP protocol it uses and the worker count it suggests.

uvicorn's ``--workers N`` path binds the listening socket itself with ``proto`` 0, and asyncio turns TCP_NODELAY on
only for accepted sockets whose ``proto`` is IPPROTO_TCP (Kludex/uvicorn#3149; uvloop sets it on every TCP
connection, but it is optional). With Nagle left on, the body of each keep-alive answer waits for the client's delayed
ACK of its headers: some 40 ms on Linux, the 52 ms one-client latency ``--workers 2`` had. :func:`http_protocol`
is uvicorn's own protocol (httptools when installed, else h11) with TCP_NODELAY set on every connection it
accepts, whichever path bound the socket.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["http_protocol", "default_workers", "NoDelayH11Protocol"]


def _no_delay(transport: Any) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # a socket that refuses it answers as before
            pass


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with Nagle's algorithm off on each connection."""

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        """Set TCP_NODELAY, then hand the connection to uvicorn."""
        _no_delay(transport)
        super().connection_made(transport)


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools not installed: h11 (pure Python, slower)
    NoDelayHttpToolsProtocol: type | None = None
else:
    class NoDelayHttpToolsProtocol(HttpToolsProtocol):  # type: ignore[no-redef]
        """uvicorn's httptools protocol with Nagle's algorithm off on each connection."""

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            """Set TCP_NODELAY, then hand the connection to uvicorn."""
            _no_delay(transport)
            super().connection_made(transport)


def http_protocol() -> type:
    """The protocol class for ``uvicorn.run(http=…)``: httptools when installed (what uvicorn's ``auto`` picks),
    else h11; either way with TCP_NODELAY on every accepted connection."""
    return NoDelayHttpToolsProtocol or NoDelayH11Protocol


def default_workers() -> int:
    """The worker processes ``serve`` would need to use every core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
