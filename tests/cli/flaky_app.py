"""A tiny Restate app for the ``up`` supervision tests: importing it fails while the file named by
``FLAKY_APP_FAIL_FILE`` exists, as a service with a broken deploy would."""

from __future__ import annotations

import os
from pathlib import Path

import restate

_FAIL_FILE = os.environ.get("FLAKY_APP_FAIL_FILE")
if _FAIL_FILE and Path(_FAIL_FILE).exists():
    raise RuntimeError(f"flaky_app refuses to import while {_FAIL_FILE} exists")

agent = restate.Service("Agent")


@agent.handler()
async def run(ctx: restate.Context, message: str) -> str:
    """Echo the message."""
    return f"echo: {message}"


app = restate.app(services=[agent])
