"""``agent_service``: a Restate Service whose ``run`` handler runs one agent turn. Private module."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import restate
from agents import Agent, RunConfig
from pydantic_core import to_jsonable_python

from resilient_agents import _tracing
from resilient_agents._durable import RawBytes, fast_retry_policy, parse_user_message
from resilient_agents._progress import install as _install_progress_driver

from ._runner import DurableRunner
from ._settings import DurableSettings, turn_run_config

DEFAULT_MAX_MESSAGE_CHARS = 32_000

__all__ = ["DEFAULT_MAX_MESSAGE_CHARS", "ServiceSettings", "agent_service", "fast_retry_policy", "parse_message"]


@dataclasses.dataclass(frozen=True)
class ServiceSettings:
    """Settings of a service built by :func:`agent_service`."""

    max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS
    """Longest user message accepted; longer ones fail terminally with HTTP 400."""
    durable: DurableSettings = dataclasses.field(default_factory=DurableSettings)
    """Retry settings of model calls and durable tools."""
    retry_policy: restate.InvocationRetryPolicy = dataclasses.field(default_factory=fast_retry_policy)
    """How the engine retries an invocation whose attempt failed (for example because the service died)."""


def answer_text(output: object) -> str:
    """The handler's answer for an agent's final output: text as is, structured output as JSON."""
    if isinstance(output, str):
        return output
    return json.dumps(to_jsonable_python(output), ensure_ascii=False)


def answer_value(output: object) -> Any:
    """The handler's JSON answer for an agent's final output: text as a JSON string, structured output as
    the JSON object itself (``{"number": 74}``, not the string ``"{\\"number\\": 74}"``)."""
    if isinstance(output, str):
        return output
    return to_jsonable_python(output)


def parse_message(body: bytes, max_chars: int = DEFAULT_MAX_MESSAGE_CHARS) -> str:
    """Validate a request body holding one user message as a JSON string.

    Args:
        body: The raw request body.
        max_chars: The longest accepted message.

    Returns:
        The message.

    Raises:
        InvalidInputError: For an empty body, a body that is not JSON, JSON that is not a string, an empty
            message, or a message longer than ``max_chars``. It is terminal: Restate does not retry it.
    """
    return parse_user_message(
        body,
        max_chars,
        example="""curl localhost:8080/Agent/run --json '"What is the weather in Detroit?"'""",
        limit_setting="ServiceSettings.max_message_chars",
    )


def agent_service(
    agent: Agent[Any],
    *,
    name: str = "Agent",
    run_config: Callable[[], RunConfig] | None = None,
    settings: ServiceSettings | None = None,
    description: str | None = None,
    stream: bool = False,
) -> restate.Service:
    """Build a Restate Service with a ``run`` handler: a user message (JSON string) in, the answer out.

    Every call is one durable agent turn: ``curl localhost:8080/<name>/run --json '"Hi"'``.

    Args:
        agent: The agent that answers.
        name: The Restate service name.
        run_config: Builds the SDK run configuration for each turn (model provider, model name, tracing).
            Default: the model the environment configures (:mod:`resilient_agents.config`), else the SDK's.
        settings: Input limits, retry settings and the invocation retry policy.
        description: Shown in the Restate UI.
        stream: Run each turn with :meth:`DurableRunner.run_streamed`: model calls stream from the provider and
            their text deltas reach clients through ``GET /_streams/<invocation id>`` on the service's port
            (``resilient-agents chat --stream``); the handler's answer is the same.

    Returns:
        The service; bind it into a ``restate.app``.
    """
    _install_progress_driver()
    cfg = settings or ServiceSettings()
    service = restate.Service(
        name,
        description=description or f"Durable agent {agent.name!r}: POST a JSON string to /{name}/run.",
        invocation_retry_policy=cfg.retry_policy,
    )

    @service.handler(name="run", input_serde=RawBytes(), accept="*/*")
    async def run(ctx: restate.Context, body: bytes) -> Any:
        message = parse_message(body, cfg.max_message_chars)
        config = turn_run_config(run_config)
        with _tracing.turn(ctx, agent=agent.name, path="openai-agents"):
            if stream:
                streamed = DurableRunner.run_streamed(agent, message, run_config=config, settings=cfg.durable)
                async for _ in streamed.stream_events():
                    pass  # The deltas reach clients through the side channel.
                return answer_value(streamed.final_output)
            result = await DurableRunner.run(agent, message, run_config=config, settings=cfg.durable)
            return answer_value(result.final_output)

    return service
