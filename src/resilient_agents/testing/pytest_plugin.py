"""Pytest fixtures for testing durable agents (opt in with ``pytest_plugins = [__name__]`` in conftest).

* The whole test process moves into a loopback-only network namespace at start where the OS allows it
  (restate-server asks GitHub for its latest version at every start; inside the namespace that request
  cannot leave the machine). Set ``RESILIENT_AGENTS_NETNS=off`` to skip it.
* ``agent_env``: a factory fixture; ``agent_env("my_app.module:app")`` returns a started
  :class:`AgentTestEnv` that is stopped after the test.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from resilient_agents.engine.netns import enter_loopback_namespace, in_loopback_namespace

from ._env import AgentTestEnv


def pytest_configure(config: pytest.Config) -> None:
    """Enter the loopback-only network namespace before any test (or thread) starts."""
    if os.environ.get("RESILIENT_AGENTS_NETNS", "").lower() in ("off", "0", "no"):
        return
    if not in_loopback_namespace() and not enter_loopback_namespace():
        config.issue_config_time_warning(
            pytest.PytestWarning(
                "could not enter a loopback-only network namespace; restate-server's version check may try to "
                "reach the network (harmless offline)"
            ),
            stacklevel=2,
        )


@pytest.fixture
def agent_env(tmp_path: Path) -> Iterator[Callable[..., AgentTestEnv]]:
    """Factory: ``agent_env(app_spec, **kwargs)`` starts an :class:`AgentTestEnv`; all are stopped afterwards."""
    started: list[AgentTestEnv] = []

    def make(app: str, **kwargs: Any) -> AgentTestEnv:
        env = AgentTestEnv(app, tmp_path / f"env{len(started)}", **kwargs)
        started.append(env)
        return env.start()

    yield make
    stop_all(started)


def stop_all(envs: list[AgentTestEnv]) -> None:
    """Stop every environment (newest first), even when stopping one of them fails; then raise its error."""
    with contextlib.ExitStack() as stack:
        for env in envs:
            stack.callback(env.stop)
