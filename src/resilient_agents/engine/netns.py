"""Keep the engine off the network: move this process into a loopback-only network namespace.

``restate-server`` asks GitHub for its latest release at every start, and that cannot be switched off.
Tests, CI and benchmarks must not send traffic off the machine, so they run the server (together with the
services and clients it talks to: a namespace has its own loopback) inside a fresh network namespace that
only has ``lo`` up. :func:`enter_loopback_namespace` does that for the *current* process without the ``ip``
or ``unshare`` binaries; every child started afterwards inherits the namespace.

Linux only. As root a plain ``unshare(CLONE_NEWNET)`` is used; otherwise an unprivileged user namespace is
created together with the network namespace (which requires a single-threaded process). Where neither is
allowed, the functions return ``False`` and the caller falls back to plain loopback.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import socket
import struct
import sys

__all__ = ["NETNS_ENV_VAR", "enter_loopback_namespace", "in_loopback_namespace"]

NETNS_ENV_VAR = "RESILIENT_AGENTS_NETNS"
"""Environment variable set to ``"1"`` once the process is in a loopback-only namespace (children inherit it)."""

_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_IFREQ = struct.Struct("16sH22x")  # struct ifreq: char ifr_name[16]; short ifr_flags; padding to 40 bytes.


def in_loopback_namespace() -> bool:
    """Tell whether this process is already in a loopback-only network namespace.

    Returns:
        True when :func:`enter_loopback_namespace` succeeded in this process or in the parent that started it
        (``RESILIENT_AGENTS_NETNS=1``), or when ``lo`` is the only network interface (e.g. the process was started
        with ``unshare -n``).
    """
    return os.environ.get(NETNS_ENV_VAR) == "1" or _only_loopback_interface()


def _only_loopback_interface() -> bool:
    try:
        with open("/proc/self/net/dev", "rb") as devices:
            lines = devices.read().splitlines()[2:]  # two header lines
    except OSError:
        return False
    names = {line.split(b":", 1)[0].strip() for line in lines if b":" in line}
    return names == {b"lo"}


def enter_loopback_namespace() -> bool:
    """Move the current process into a new network namespace in which only the loopback interface is up.

    Afterwards nothing this process or its children do can reach another machine, but everything on
    ``127.0.0.1`` works as usual (within the namespace: processes outside it cannot connect in, and vice
    versa). Call it early, before starting threads, servers or child processes: namespaces belong to threads,
    so the function refuses to run in a multi-threaded process rather than leave other threads outside.

    Returns:
        True when the process is now (or already was) in a loopback-only namespace; False where the operating
        system does not allow it (not Linux, no privileges and no unprivileged user namespaces, several
        threads). It never raises for those cases.
    """
    if in_loopback_namespace():
        os.environ[NETNS_ENV_VAR] = "1"
        return True
    if not sys.platform.startswith("linux"):
        return False
    if _thread_count() != 1:
        return False
    libc = _libc()
    if libc is None:
        return False
    entered = False
    if _unshare(libc, _CLONE_NEWNET) == 0:
        entered = True
    else:
        # Unprivileged: a new user namespace grants the capabilities needed inside the new network namespace.
        uid, gid = os.getuid(), os.getgid()
        if _unshare(libc, _CLONE_NEWUSER | _CLONE_NEWNET) == 0:
            entered = True
            _write_id_maps(uid, gid)
    if not entered:
        return False
    if not _bring_loopback_up():
        return False
    os.environ[NETNS_ENV_VAR] = "1"
    return True


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        libc.unshare  # noqa: B018 - fails when the symbol is missing
    except (OSError, AttributeError):
        return None
    return libc


def _unshare(libc: ctypes.CDLL, flags: int) -> int:
    result: int = libc.unshare(ctypes.c_int(flags))
    return result


def _thread_count() -> int:
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"Threads:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 1


def _write_id_maps(uid: int, gid: int) -> None:
    # Map our own ids onto themselves, so files we create keep their owner and getuid() does not change.
    # Writing "deny" to setgroups is required before an unprivileged process may write gid_map.
    for path, content in (
        ("/proc/self/setgroups", "deny"),
        ("/proc/self/uid_map", f"{uid} {uid} 1\n"),
        ("/proc/self/gid_map", f"{gid} {gid} 1\n"),
    ):
        with contextlib.suppress(OSError), open(path, "wb") as handle:
            handle.write(content.encode())


def _bring_loopback_up() -> bool:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            request = _IFREQ.pack(b"lo", 0)
            answer = fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, request)
            _, flags = _IFREQ.unpack(answer)
            if not flags & _IFF_UP:
                fcntl.ioctl(sock.fileno(), _SIOCSIFFLAGS, _IFREQ.pack(b"lo", flags | _IFF_UP))
    except OSError:
        return False
    return True
