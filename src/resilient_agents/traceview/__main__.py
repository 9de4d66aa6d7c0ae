"""``python -m resilient_agents.traceview``: run the trace viewer alone, or screenshot a page of it.

python -m resilient_agents.traceview [--port 4318]          # serve until Ctrl-C
python -m resilient_agents.traceview --screenshot URL OUT.png  # headless Chromium screenshot
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from . import DEFAULT_PORT, BrowserError, TraceViewer, TraceViewerError, screenshot


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the viewer until interrupted, or take one screenshot; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m resilient_agents.traceview", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port for OTLP and pages (default: %(default)s)")
    parser.add_argument("--screenshot", nargs=2, metavar=("URL", "PNG"), help="save a PNG of URL and exit")
    args = parser.parse_args(argv)
    if args.screenshot:
        url, out = args.screenshot
        try:
            print(screenshot(url, Path(out)))
        except BrowserError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        return 0
    try:
        viewer = TraceViewer(args.host, args.port).start()
    except TraceViewerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"trace viewer: {viewer.url}  (OTLP/HTTP: {viewer.otlp_endpoint}/v1/traces)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        viewer.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
