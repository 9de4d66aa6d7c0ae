"""``--header NAME=VALUE`` and the session token the CLI adds when the session secret is set."""

from __future__ import annotations

import pytest

from resilient_agents.access import SESSION_SECRET_ENV, SESSION_TOKEN_HEADER, session_token
from resilient_agents.cli._headers import caller_headers
from resilient_agents.errors import ConfigurationError


def test_headers_are_parsed_and_names_lowered() -> None:
    assert caller_headers(["X-Tenant=eu", "authorization=Bearer a=b"], None, env={}) == {
        "x-tenant": "eu",
        "authorization": "Bearer a=b",
    }


def test_the_session_token_is_added_only_for_a_session_with_the_secret_set() -> None:
    env = {SESSION_SECRET_ENV: "s3"}
    assert caller_headers([], "alice", env=env) == {SESSION_TOKEN_HEADER: session_token("s3", "alice")}
    assert caller_headers([], None, env=env) == {}
    assert caller_headers([], "alice", env={}) == {}
    given = caller_headers([f"{SESSION_TOKEN_HEADER}=mine"], "alice", env=env)
    assert given == {SESSION_TOKEN_HEADER: "mine"}  # An explicit header wins.


@pytest.mark.parametrize("bad", ["novalue", "=value", " =x"])
def test_a_header_without_name_and_value_is_a_usage_error(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="NAME=VALUE"):
        caller_headers([bad], None, env={})
