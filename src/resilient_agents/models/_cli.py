"""The command line of ``python -m resilient_agents.models``: serve until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from resilient_agents.errors import ModelServerError
from resilient_agents.models.demo import DemoModel
from resilient_agents.models.request import Responder
from resilient_agents.models.server import ModelServer

_MODES: dict[str, type[DemoModel]] = {"demo": DemoModel}
_WAIT_SECONDS = 0.2


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser.

    Returns:
        The parser for ``--mode``, ``--host``, ``--port`` and ``--port-file``.
    """
    parser = argparse.ArgumentParser(
        prog="python -m resilient_agents.models",
        description="Serve an OpenAI-compatible offline model on 127.0.0.1 (not an LLM).",
    )
    parser.add_argument(
        "--mode", choices=sorted(_MODES), default="demo", help="which responder answers (default: demo)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default: 0)")
    parser.add_argument("--port-file", type=Path, help="write the chosen port to this file once listening")
    return parser


def write_port_file(path: Path, port: int) -> None:
    """Write the port atomically, so a reader never sees a half-written file.

    Args:
        path: Where to write.
        port: The port number.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(f"{port}\n")
    os.replace(tmp, path)


def serve(responder: Responder, host: str, port: int, port_file: Path | None, stop: threading.Event) -> None:
    """Serve until ``stop`` is set.

    Args:
        responder: What answers the requests.
        host: The loopback address.
        port: The port (0 for a free one).
        port_file: Where to write the chosen port, if anywhere.
        stop: Set to stop serving.
    """
    with ModelServer(responder, host=host, port=port) as srv:
        if port_file is not None:
            write_port_file(port_file, srv.port)
        print(f"offline model listening on {srv.base_url} (offline demo model, not an LLM)", flush=True)
        while not stop.wait(_WAIT_SECONDS):
            pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server from the command line.

    Args:
        argv: The arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 after a clean stop, 1 if the server could not start.
    """
    args = build_parser().parse_args(argv)
    stop = threading.Event()

    def _request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    try:
        serve(_MODES[args.mode](), args.host, args.port, args.port_file, stop)
    except ModelServerError as exc:
        print(f"error: {exc}", flush=True)
        return 1
    return 0
