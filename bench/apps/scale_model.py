"""The scale bench's model server, in a process of its own so its CPU does not share the bench's interpreter.

``python -m bench.apps.scale_model --delay-ms 200`` serves the weather turn's model (a ``get_weather`` call, then
an answer quoting the tool's output) and answers every request after the delay. It prints ``ready <base URL>``
once listening, then reads commands on its standard input: ``delay <ms>`` changes the delay (it answers ``ok``);
end of file stops it.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from bench._common import WeatherTurnResponder
from resilient_agents.models import ModelServer, ParsedRequest, Reply


class DelayedResponder:
    """The weather turn's model, answering after :attr:`delay` seconds.

    The server answers each request on its own thread, so requests in flight together wait out their delays
    together, like a remote model's latency. The delay can be changed while it runs.
    """

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self._inner = WeatherTurnResponder()

    def respond(self, request: ParsedRequest) -> Reply:
        """Wait the delay, then answer as :class:`~bench._common.WeatherTurnResponder` does."""
        if self.delay > 0:
            time.sleep(self.delay)  # A stand-in for the model's latency; this is a server thread.
        return self._inner.respond(request)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until standard input closes."""
    parser = argparse.ArgumentParser(prog="python -m bench.apps.scale_model")
    parser.add_argument("--delay-ms", type=float, default=200.0)
    args = parser.parse_args(argv)
    responder = DelayedResponder(args.delay_ms / 1000.0)
    with ModelServer(responder) as server:
        print(f"ready {server.base_url}", flush=True)
        for line in sys.stdin:
            command, _, value = line.strip().partition(" ")
            if command == "delay":
                responder.delay = float(value) / 1000.0
                print("ok", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
