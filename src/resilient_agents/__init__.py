"""resilient-agents: durable LLM agents on the Restate engine.

* :mod:`resilient_agents.openai_agents`: run OpenAI Agents SDK agents durably inside Restate handlers.
* :mod:`resilient_agents.engine`: find, install and run ``restate-server``; serve and register apps.
* :mod:`resilient_agents.models`: the offline OpenAI-compatible model server (demo and scripted modes).
* :mod:`resilient_agents.testing`: a test environment on the real engine, with fault injection.
* :mod:`resilient_agents.run`: run a script's ``async def main()`` as one durable invocation.
* :mod:`resilient_agents.config`: which model backend the agents use.

Importing this package has no side effects.
"""

from __future__ import annotations

import importlib.metadata as _metadata
import typing as _typing

from resilient_agents.errors import (
    ConfigurationError,
    EngineError,
    ModelServerError,
    ResilientAgentsError,
)

if _typing.TYPE_CHECKING:  # Only for annotations: the package's public names stay those of __all__.
    import os
    from collections.abc import Awaitable, Callable

    from resilient_agents.errors import InvalidInputError, TerminalAgentError

try:
    __version__ = _metadata.version("resilient-agents")
except _metadata.PackageNotFoundError:  # Running from a source tree that is not installed.
    __version__ = "0.0.0"

__all__ = [
    "ConfigurationError",
    "EngineError",
    "InvalidInputError",
    "ModelServerError",
    "ResilientAgentsError",
    "TerminalAgentError",
    "__version__",
    "enable_concurrent_durable_awaits",
    "run_durably",
]


def enable_concurrent_durable_awaits() -> None:
    """Let any number of asyncio tasks of one Restate handler await durable futures at once.

    restate-sdk 1.3.0 loses wake-ups when several tasks of one invocation wait for different durable futures
    (a task can sleep until the engine's inactivity timeout although its step finished). Our services,
    ``durable_app`` and ``DurableRunner.run`` enable the fix themselves; call this once at start-up when you
    serve handlers of your own that await durable futures from several tasks. It is idempotent.
    """
    from resilient_agents._progress import install

    install()


def run_durably(
    main: Callable[[], Awaitable[_typing.Any]], *, data_dir: str | os.PathLike[str] | None = None, fresh: bool = False
) -> _typing.Any:
    """Run ``async def main()`` as one durable Restate invocation; re-running after a crash resumes it.

    See :func:`resilient_agents.run.run_durably` (imported on first use: ``import resilient_agents`` stays light).
    """
    from resilient_agents.run import run_durably as run

    return run(main, data_dir=data_dir, fresh=fresh)


def __getattr__(name: str) -> _typing.Any:
    # These two derive from restate.TerminalError: loaded on first use, so `import resilient_agents` stays light.
    if name in ("TerminalAgentError", "InvalidInputError"):
        from resilient_agents import errors

        return getattr(errors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *("TerminalAgentError", "InvalidInputError")])
