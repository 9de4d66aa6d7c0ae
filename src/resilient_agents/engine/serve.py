"""Serve a Restate app with hypercorn, in this very process (no forked worker).

Run as ``python -m resilient_agents.engine.serve --app module:attr --host 127.0.0.1 --port 9080``. It prints
``resilient-agents serve: ready on http://127.0.0.1:9080`` once it accepts connections, stops gracefully on the
first SIGINT or SIGTERM and at once on the second. Because the process that prints the line is the one that
serves, ``kill -9`` of it really takes the service down, which crash tests rely on.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from resilient_agents.engine._serving import READY_PREFIX, hypercorn_config, load_app, serve_app
from resilient_agents.errors import EngineError

__all__ = ["READY_PREFIX", "hypercorn_config", "load_app", "main", "serve_app"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m resilient_agents.engine.serve``.

    Args:
        argv: Command-line arguments without the program name; ``sys.argv[1:]`` when None.

    Returns:
        The exit status: 0 after a graceful stop, 1 when serving failed, 2 when the app cannot be loaded.
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
    args = parser.parse_args(argv)
    try:
        app = load_app(args.app)
    except EngineError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return EXIT_USAGE

    def ready(url: str) -> None:
        print(f"{READY_PREFIX}{url} ({args.app})", flush=True)

    try:
        asyncio.run(serve_app(app, args.host, args.port, ready=ready, graceful_timeout=args.graceful_timeout))
    except EngineError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        pass
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
