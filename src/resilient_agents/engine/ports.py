"""Small TCP port helpers shared by the engine and the service processes."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

__all__ = ["format_host_port", "http_url", "pick_free_port", "port_accepts", "port_is_free", "wait_for_port"]


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def format_host_port(host: str, port: int) -> str:
    """Join a host and a port, bracketing IPv6 literals.

    Args:
        host: An IPv4/IPv6 address or a host name.
        port: The TCP port.

    Returns:
        ``host:port`` or ``[host]:port``.
    """
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def http_url(host: str, port: int) -> str:
    """Return ``http://host:port`` (IPv6 literals bracketed).

    Args:
        host: An IPv4/IPv6 address or a host name.
        port: The TCP port.

    Returns:
        The base URL, without a trailing slash.
    """
    return f"http://{format_host_port(host, port)}"


def pick_free_port(host: str = "127.0.0.1", *, avoid: set[int] | None = None) -> int:
    """Ask the OS for a currently free TCP port on ``host``.

    Another process may take it before you bind it; keep the time between picking and binding short.

    Args:
        host: The address the port will be bound on.
        avoid: Ports not to return (e.g. ones picked a moment ago for other listeners).

    Returns:
        The port number.
    """
    avoid = avoid or set()
    while True:
        with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        if port not in avoid:
            return port


def port_is_free(host: str, port: int) -> bool:
    """Tell whether a server could listen on ``host:port`` right now.

    Uses ``SO_REUSEADDR`` like the servers we start, so connections lingering in TIME_WAIT do not count.

    Args:
        host: The address to check.
        port: The TCP port.

    Returns:
        False when another socket holds the port.
    """
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen(1)
        except OSError:
            return False
    return True


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    """Tell whether something accepts TCP connections on ``host:port``.

    Args:
        host: The address to connect to.
        port: The TCP port.
        timeout: Seconds to wait for the connection.

    Returns:
        True when a connection could be opened (it is closed at once).
    """
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(
    host: str, port: int, *, timeout: float, alive: Callable[[], bool] | None = None, interval: float = 0.02
) -> bool:
    """Wait until ``host:port`` accepts connections.

    Args:
        host: The address to connect to.
        port: The TCP port.
        timeout: Seconds to wait at most.
        alive: Called between attempts; waiting stops early (returning False) once it returns False.
        interval: Seconds between attempts.

    Returns:
        True when the port accepted a connection in time; False on timeout or when ``alive`` said no.
    """
    deadline = time.monotonic() + timeout
    while True:
        if alive is not None and not alive():
            return False
        if port_accepts(host, port):
            return alive is None or alive()
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
