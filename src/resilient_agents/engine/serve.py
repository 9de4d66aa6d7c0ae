"""Serve a Restate app with hypercorn, in this very process (no forked worker).

Run as ``python -m resilient_agents.engine.serve --app module:attr --host 127.0.0.1 --port 9080``. It prints
``resilient-agents serve: ready on http://127.0.0.1:9080`` once it accepts connections, stops gracefully on the
first SIGINT or SIGTERM and at once on the second. Because the process that prints the line is the one that
serves, ``kill -9`` of it really takes the service down, which crash tests rely on.

With ``--standby`` the process is a warm spare (see ``ServiceProcess(standby=True)``): it imports the app, then
waits for the line ``go`` on its standard input before it binds the port and serves. Its standard input is a
pipe from the parent, so when the parent exits (even by ``kill -9``) the pipe closes and the process exits too:
at once while it waits, gracefully (as on SIGINT) once it serves. ``--status-fd`` names a descriptor on which
it writes ``standby`` once the app is imported and ``ready <url>`` once the port listens, or ``stale`` (and
exits) when told to serve after a source file of the app or project changed since it imported it.

With ``--reuse-port`` it listens with ``SO_REUSEPORT``: it is one of several workers sharing the port
(``ServiceProcess(workers=N)``), and the kernel spreads the engine's connections over them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import signal
import sys
import sysconfig
import threading
import time
from collections.abc import Sequence

from resilient_agents.engine._serving import READY_PREFIX, hypercorn_config, load_app, serve_app
from resilient_agents.engine._standby import GO
from resilient_agents.engine.ports import port_is_free
from resilient_agents.errors import EngineError

__all__ = ["GO", "READY_PREFIX", "STANDBY_PREFIX", "hypercorn_config", "load_app", "main", "serve_app"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

STANDBY_PREFIX = "resilient-agents serve: standby "
"""The line a ``--standby`` process prints once the app is imported and it waits for ``go``."""

_PORT_WAIT = 5.0
"""Seconds a promoted spare waits for the port to be released (by a killed process) before binding anyway."""


class _Standby:
    """Reads the parent's control pipe (standard input) in a thread: ``go`` promotes, end of file ends us."""

    def __init__(self) -> None:
        self._go = threading.Event()
        self._lock = threading.Lock()
        self._closed = False
        self._serving = False
        threading.Thread(target=self._read, name="standby-control", daemon=True).start()

    def wait(self) -> bool:
        """Wait for ``go``; False when the parent closed the pipe first (we are not needed)."""
        self._go.wait()
        with self._lock:
            self._serving = not self._closed
            return self._serving

    def _read(self) -> None:
        # os.read on the descriptor, not sys.stdin: a daemon thread blocked inside the buffered reader's lock
        # makes the interpreter abort at shutdown.
        pending = b""
        while chunk := _read_quietly(0):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            if any(line.strip() == GO for line in lines):
                self._go.set()
        # End of file: the parent is gone, or it stopped us.
        with self._lock:
            self._closed = True
            serving = self._serving
        if not serving:
            os._exit(EXIT_OK)  # Never served: nothing to clean up, and no reason to finish importing.
        with contextlib.suppress(ProcessLookupError):
            os.kill(os.getpid(), signal.SIGINT)  # Stop serving gracefully, as on Ctrl-C.


def _read_quietly(fd: int) -> bytes:
    """Read what is there (blocking); empty at end of file or when the descriptor is unusable."""
    try:
        return os.read(fd, 1024)
    except OSError:
        return b""


def _write_status(fd: int | None, line: str) -> None:
    if fd is None:
        return
    with contextlib.suppress(OSError):  # The parent stopped listening: nothing to tell.
        os.write(fd, (line + "\n").encode())


def _prewarm() -> None:
    """Do, while the spare waits, what the first request would otherwise do lazily (about 0.1-0.2 s).

    The OpenAI client imports its API resources, streaming events and HTTP/2 stack on first use and builds an
    SSL context per client; a promoted spare serves a resumed turn at once, so it pays that up front. Only
    when the app already imported ``openai``; nothing is sent anywhere.
    """
    if "openai" not in sys.modules:
        return
    try:
        import openai
        import openai.lib.streaming.responses  # Imported for its side effect: a warm module cache.

        client = openai.AsyncOpenAI(api_key="standby-warm-up", base_url="http://127.0.0.1:9/v1")
        _ = (client.responses, client.chat.completions)
    except Exception as error:  # A warm-up only: serving works without it.
        print(f"resilient-agents serve: warm-up skipped ({error!r})", file=sys.stderr, flush=True)


def _user_module_files() -> list[str]:
    """The source files of the imported modules that are not the standard library's or installed packages'."""
    installed = {
        os.path.realpath(path)
        for name in ("stdlib", "platstdlib", "purelib", "platlib")
        if (path := sysconfig.get_paths().get(name))
    }
    files: list[str] = []
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not isinstance(path, str):
            continue
        real = os.path.realpath(path)
        if not any(real.startswith(prefix + os.sep) for prefix in installed):
            files.append(real)
    return files


def _changed_source(imported_at_ns: int) -> str | None:
    """The first app or project source file changed (or deleted) since the import began, or None."""
    for path in _user_module_files():
        try:
            if os.stat(path).st_mtime_ns > imported_at_ns:
                return path
        except OSError:
            return path
    return None


def _wait_until_port_free(host: str, port: int) -> None:
    """A spare is promoted right after the serving process died; wait (briefly) until its port is free."""
    if port == 0:
        return
    deadline = time.monotonic() + _PORT_WAIT
    while not port_is_free(host, port) and time.monotonic() < deadline:
        time.sleep(0.005)


def _stand_by(standby: _Standby, args: argparse.Namespace, imported_at_ns: int) -> bool:
    """Warm up, say so, and wait for ``go``; False when the process is not needed after all.

    A spare whose app (or project) source changed since it imported it would serve stale code: it says
    ``stale`` and exits instead, and its parent starts a fresh process.
    """
    _prewarm()
    print(f"{STANDBY_PREFIX}pid {os.getpid()}: {args.app} imported, waiting for go", flush=True)
    _write_status(args.status_fd, "standby")
    try:
        if not standby.wait():
            return False
    except KeyboardInterrupt:
        return False
    changed = _changed_source(imported_at_ns)
    if changed is not None:
        print(
            f"resilient-agents serve: pid {os.getpid()} not promoted: {changed} changed since it was imported; "
            "a fresh process imports it",
            flush=True,
        )
        _write_status(args.status_fd, "stale")
        return False
    print(f"resilient-agents serve: pid {os.getpid()} promoted, serving {args.host}:{args.port}", flush=True)
    return True


_GC_YOUNG_THRESHOLD = 20_000
"""Allocations between collections of the youngest generation (Python's default: 700)."""


def _tune_garbage_collector() -> None:
    """Make the collector cheaper for a serving process, once the app is imported.

    Everything imported so far (the Agents SDK, openai, pydantic's schemas: hundreds of thousands of objects)
    lives as long as the process, so it is moved out of the collector's sight (``gc.freeze``) instead of being
    traversed by every full collection; and the youngest generation is collected less often, since a turn
    allocates thousands of short-lived objects that reference counting frees anyway. Together they cut the
    service CPU per turn by about 15% on the Agents SDK path and 17% on the native loop in
    ``scripts/bench scale`` (1,000 sessions, 2 workers).
    """
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(_GC_YOUNG_THRESHOLD, middle, oldest)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m resilient_agents.engine.serve``.

    Args:
        argv: Command-line arguments without the program name; ``sys.argv[1:]`` when None.

    Returns:
        The exit status: 0 after a graceful stop (or a spare that was not needed), 1 when serving failed, 2 when
        the app cannot be loaded.
    """
    parser = argparse.ArgumentParser(
        prog="python -m resilient_agents.engine.serve",
        description="Serve a Restate ASGI app with hypercorn (HTTP/1.1 and h2c) in this process.",
    )
    parser.add_argument(
        "--app", required=True, help="the app as module:attribute or path/to/file.py:attribute (attribute: app)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9080, help="port to bind, 0 for a free one (default: 9080)")
    parser.add_argument(
        "--graceful-timeout", type=float, default=2.0, help="seconds open connections get on shutdown (default: 2)"
    )
    parser.add_argument(
        "--standby",
        action="store_true",
        help="import the app, then wait for the line 'go' on stdin before serving; exit when stdin closes",
    )
    parser.add_argument(
        "--reuse-port",
        action="store_true",
        help="listen with SO_REUSEPORT: one of several worker processes sharing the port",
    )
    parser.add_argument(
        "--status-fd",
        type=int,
        default=None,
        help="file descriptor receiving 'standby' once the app is imported and 'ready <url>' once serving",
    )
    args = parser.parse_args(argv)
    # Watch the parent from the start: a spare whose parent dies while it imports must not linger.
    standby = _Standby() if args.standby else None
    imported_at_ns = time.time_ns()
    try:
        app = load_app(args.app)
    except EngineError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return EXIT_USAGE

    _tune_garbage_collector()
    if standby is not None and not _stand_by(standby, args, imported_at_ns):
        return EXIT_OK

    def ready(url: str) -> None:
        print(f"{READY_PREFIX}{url} ({args.app}, pid {os.getpid()})", flush=True)
        _write_status(args.status_fd, f"ready {url}")

    try:
        if standby is not None and not args.reuse_port:
            _wait_until_port_free(args.host, args.port)  # With SO_REUSEPORT the other workers hold it: bind now.
        asyncio.run(
            serve_app(
                app,
                args.host,
                args.port,
                ready=ready,
                graceful_timeout=args.graceful_timeout,
                reuse_port=args.reuse_port,
            )
        )
    except EngineError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        pass
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
