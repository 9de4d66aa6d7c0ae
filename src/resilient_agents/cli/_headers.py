"""Headers a CLI caller sends with a request: ``--header NAME=VALUE`` and the session token. Private module."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence

from resilient_agents.access import SESSION_SECRET_ENV, SESSION_TOKEN_HEADER, session_token
from resilient_agents.errors import ConfigurationError


def add_header_argument(parser: argparse.ArgumentParser) -> None:
    """Add the repeatable ``--header NAME=VALUE`` option."""
    parser.add_argument(
        "--header",
        dest="headers",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=f"send this header too (repeatable); with ${SESSION_SECRET_ENV} set, the {SESSION_TOKEN_HEADER} "
        "of --session is sent for you",
    )


def caller_headers(pairs: Sequence[str], session: str | None, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The headers of ``--header`` plus, for a session when the session secret is set, its session token.

    Raises:
        ConfigurationError: A ``--header`` value is not ``NAME=VALUE``.
    """
    env = os.environ if env is None else env
    headers: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ConfigurationError(f"--header {pair!r}: give NAME=VALUE, e.g. --header x-session-token=abc")
        headers[name.strip().lower()] = value.strip()
    secret = env.get(SESSION_SECRET_ENV)
    if session and secret and SESSION_TOKEN_HEADER not in headers:
        headers[SESSION_TOKEN_HEADER] = session_token(secret, session)
    return headers
