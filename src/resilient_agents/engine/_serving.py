"""Serve a Restate ASGI app in-process with hypercorn (implementation of :mod:`resilient_agents.engine.serve`).

Kept apart from ``serve.py`` so that ``python -m resilient_agents.engine.serve`` does not import the module it
is about to run through the package ``__init__``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import importlib
import importlib.util
import os
import signal
import socket
import sys
import threading
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import restate
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config
from restate import server as restate_server

from resilient_agents._asgi import answer_lifespan
from resilient_agents.engine.identity import IDENTITY_KEYS_ENV, identity_keys_from_env, require_request_identity
from resilient_agents.engine.ports import http_url
from resilient_agents.errors import ConfigurationError, EngineError

__all__ = ["READY_PREFIX", "hypercorn_config", "load_app", "serve_app", "with_identity_from_env"]

READY_PREFIX = "resilient-agents serve: ready on "
"""The line the ``serve`` entrypoint prints (followed by the URL) once it accepts connections."""

_MAX_INT32 = 2**31 - 1
_FORCE_AFTER = 5.0  # seconds after the graceful timeout before the server task is cancelled


def hypercorn_config(*, graceful_timeout: float = 2.0) -> Config:
    """Return a hypercorn configuration suited to Restate deployments.

    Hypercorn serves HTTP/1.1 and cleartext HTTP/2 (prior knowledge) on the same port. Restate registers
    deployments over HTTP/2 by default, which gives the SDK's bidirectional streaming protocol; HTTP/1.1 makes it
    fall back to request/response. Restate keeps its connections open for many concurrent invocations, so the
    stream and keep-alive limits are lifted (as in the SDK's own test harness).

    Args:
        graceful_timeout: Seconds open connections get to finish when the server stops.

    Returns:
        A config without ``bind`` (set by :func:`serve_app`).
    """
    config = Config()
    config.h2_max_concurrent_streams = _MAX_INT32
    config.keep_alive_max_requests = _MAX_INT32
    config.keep_alive_timeout = 3600.0
    config.graceful_timeout = graceful_timeout
    config.accesslog = None
    return config


def _resolve_attribute(module: Any, attribute: str, spec: str) -> Any:
    call = attribute.endswith("()")
    path = attribute[:-2] if call else attribute
    target: Any = module
    for part in path.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise EngineError(
                f"{module.__name__!r} has no attribute {path!r} (from app spec {spec!r}): use module:attribute "
                "naming the ASGI app, e.g. 'my_service:app' where app = restate.app([...])."
            ) from None
    if call:
        target = target()
    return target


def load_app(spec: str) -> Any:
    """Import the ASGI app named by ``spec``.

    Accepts ``module:attribute`` (the working directory is importable, as with hypercorn) and
    ``path/to/file.py:attribute``; the attribute defaults to ``app``, may be dotted, and a trailing ``()`` calls
    it (an app factory). A Restate service, virtual object or workflow (or a list of them) is wrapped with
    ``restate.app`` for you. When ``RESILIENT_AGENTS_IDENTITY_KEYS`` is set, the app accepts only requests
    signed by restate-server (:func:`with_identity_from_env`).

    Args:
        spec: Where the app is, e.g. ``"my_pkg.services:app"`` or ``"services.py:greeter"``.

    Returns:
        The ASGI application.

    Raises:
        EngineError: The module or file cannot be imported, or has no such attribute.
    """
    location, _, attribute = spec.partition(":")
    attribute = attribute or "app"
    if not location:
        raise EngineError(f"invalid app spec {spec!r}: expected 'module:attribute' or 'path/to/file.py:attribute'.")
    module: Any
    if location.endswith(".py") or "/" in location or os.sep in location:
        path = Path(location).expanduser().resolve()
        if not path.is_file():
            raise EngineError(f"app file {str(path)!r} (from app spec {spec!r}) does not exist: fix the path.")
        module_name = path.stem if path.stem.isidentifier() else "_resilient_agents_app"
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        if module_spec is None or module_spec.loader is None:
            raise EngineError(f"cannot load {str(path)!r} (from app spec {spec!r}) as a Python module.")
        module = importlib.util.module_from_spec(module_spec)
        # Siblings of the file are importable, and the module is registered before it runs (dataclasses need it).
        sys.path.insert(0, str(path.parent))
        sys.modules[module_name] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as error:
            sys.modules.pop(module_name, None)
            raise EngineError(f"importing {str(path)!r} (app spec {spec!r}) failed: {error!r}") from error
    else:
        cwd = os.getcwd()
        if cwd not in sys.path:
            sys.path.insert(0, cwd)
        try:
            module = importlib.import_module(location)
        except ImportError as error:
            raise EngineError(
                f"cannot import module {location!r} (from app spec {spec!r}): {error}; run from the directory that "
                "contains it, or install it."
            ) from error
    target = _resolve_attribute(module, attribute, spec)
    return with_identity_from_env(_as_asgi(target, spec))


def with_identity_from_env(app: Any, environ: Mapping[str, str] | None = None) -> Any:
    """Wrap ``app`` in request identity verification when ``RESILIENT_AGENTS_IDENTITY_KEYS`` is set.

    Args:
        app: The ASGI application.
        environ: Where to read the variable; ``os.environ`` when None.

    Returns:
        ``app`` itself when the variable is unset or empty, else an app that answers 401 to every request
        that restate-server did not sign with one of the listed keys (see :mod:`resilient_agents.engine.identity`).

    Raises:
        EngineError: A listed key is malformed.
    """
    keys = identity_keys_from_env(environ)
    if not keys:
        return app
    try:
        return require_request_identity(app, keys)
    except ConfigurationError as error:
        raise EngineError(f"{IDENTITY_KEYS_ENV}: {error}") from None


def _as_asgi(target: Any, spec: str) -> Any:
    services = (restate.Service, restate.VirtualObject, restate.Workflow)
    if isinstance(target, services):
        return restate.app(services=[target])
    if isinstance(target, list | tuple) and target and all(isinstance(item, services) for item in target):
        return restate.app(services=list(target))
    if not callable(target):
        raise EngineError(
            f"{spec!r} is a {type(target).__name__}, not an ASGI app: point it at restate.app([...]) or at a "
            "restate.Service / VirtualObject / Workflow."
        )
    return target


def _without_lifespan_noise(app: Any) -> Any:
    """Answer ASGI lifespan events for Restate's app, which has none (hypercorn would log a warning each start)."""
    inner = getattr(app, "__wrapped__", app)  # e.g. behind require_request_identity
    if getattr(inner, "__module__", None) != restate_server.__name__:
        return app

    async def wrapped(scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Any) -> None:
        if scope.get("type") != "lifespan":
            await app(scope, receive, send)
            return
        await answer_lifespan(receive, send)

    return wrapped


def _listening_socket(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            # Several worker processes listen on the same port; the kernel spreads new connections over them.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            hint = "the port is used by another process; stop it or choose another port (0 picks a free one)"
        else:
            hint = "check the host address (e.g. 127.0.0.1) and the port"
        raise EngineError(f"cannot listen on {host}:{port} ({error.strerror or error}): {hint}.") from error
    return sock


def _install_signal_handlers(
    loop: asyncio.AbstractEventLoop, callback: Callable[[], None]
) -> list[Callable[[], object]]:
    """Call ``callback`` on SIGINT and SIGTERM; return functions undoing what can be undone.

    The Restate SDK's ASGI app takes SIGTERM over on its first request (``loop.add_signal_handler`` keeps one
    handler per signal), which silently disabled hypercorn's own SIGTERM handling. The SDK offers a per-loop hook
    registry for exactly this; we join it for SIGTERM so both the SDK (which tells in-flight invocations to wind
    down) and we get the signal. Its dispatcher stays installed afterwards, as the SDK expects.
    """
    removers: list[Callable[[], object]] = []
    install_hook: Callable[..., None] | None = getattr(restate_server, "install_shutdown_hook", None)
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            if signum == signal.SIGTERM and install_hook is not None:
                install_hook(loop, callback, signum)
            else:
                loop.add_signal_handler(signum, callback)
                removers.append(functools.partial(loop.remove_signal_handler, signum))
        except (NotImplementedError, RuntimeError, ValueError):
            continue  # Windows, or not the main thread
    return removers


async def serve_app(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 9080,
    *,
    ready: Callable[[str], None] | None = None,
    shutdown_trigger: Callable[[], Awaitable[Any]] | None = None,
    handle_signals: bool = True,
    graceful_timeout: float = 2.0,
    reuse_port: bool = False,
) -> None:
    """Serve an ASGI app (usually ``restate.app([...])``) with hypercorn in this process until told to stop.

    The port is bound and listening before ``ready`` is called, so connections made after it are served. The
    first SIGINT or SIGTERM (or ``shutdown_trigger`` completing) stops gracefully: open connections get
    ``graceful_timeout`` seconds. A second signal, or a shutdown that hangs, cancels the server at once.

    Args:
        app: The ASGI application.
        host: Address to bind.
        port: Port to bind; 0 picks a free one (see the URL passed to ``ready``).
        ready: Called with the base URL (``http://host:port``) once the port is listening.
        shutdown_trigger: An extra coroutine function; when its coroutine completes, the server stops.
        handle_signals: Install SIGINT/SIGTERM handlers (only possible in the main thread; skipped elsewhere).
        graceful_timeout: Seconds open connections get to finish on shutdown.
        reuse_port: Listen with ``SO_REUSEPORT``, so that several worker processes share the port (the kernel
            spreads new connections over them).

    Raises:
        EngineError: The port cannot be bound.
    """
    loop = asyncio.get_running_loop()
    sock = _listening_socket(host, port, reuse_port)
    bound_port: int = sock.getsockname()[1]
    config = hypercorn_config(graceful_timeout=graceful_timeout)
    # Hand the socket over: hypercorn wraps the descriptor in its own socket object, which then owns it.
    config.bind = [f"fd://{sock.detach()}"]

    stop = asyncio.Event()
    forced = False
    serve_task: asyncio.Task[None] | None = None

    def force() -> None:
        nonlocal forced
        if serve_task is not None and not serve_task.done():
            forced = True
            serve_task.cancel()

    def on_signal() -> None:
        if stop.is_set():
            force()
        else:
            stop.set()

    async def trigger() -> None:
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(stop.wait())]
        if shutdown_trigger is not None:
            waiters.append(asyncio.ensure_future(shutdown_trigger()))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        stop.set()

    async def watchdog() -> None:
        await stop.wait()
        await asyncio.sleep(graceful_timeout + _FORCE_AFTER)
        force()

    active = True

    def on_signal_if_active() -> None:
        if active:
            on_signal()

    removers: list[Callable[[], object]] = []
    if handle_signals and threading.current_thread() is threading.main_thread():
        removers = _install_signal_handlers(loop, on_signal_if_active)
    serve_task = asyncio.ensure_future(hypercorn_serve(_without_lifespan_noise(app), config, shutdown_trigger=trigger))
    watchdog_task = asyncio.ensure_future(watchdog())
    try:
        if ready is not None:
            ready(http_url(host, bound_port))
        await serve_task
    except asyncio.CancelledError:
        if not forced:
            raise
    finally:
        watchdog_task.cancel()
        if not serve_task.done():
            serve_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await serve_task
        active = False
        for remove in removers:
            remove()
