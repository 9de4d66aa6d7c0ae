"""``agent_service``: a Restate Service whose ``run`` handler runs one agent turn. Private module."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import restate
from agents import Agent, RunConfig
from restate.serde import Serde

from resilient_agents.errors import InvalidInputError

from ._runner import DurableRunner
from ._settings import DurableSettings

DEFAULT_MAX_MESSAGE_CHARS = 32_000


def fast_retry_policy() -> restate.InvocationRetryPolicy:
    """Invocation retry policy for agent services: retry quickly, back off to at most 500 ms.

    With the engine's default (500 ms doubling to a minute) a service that crashed and came back took over
    6 s to pick its invocation up again. Capping the interval at 500 ms resumes a turn within half a second
    of the restart while costing two connection attempts per second during an outage; after
    ``max_attempts`` (about an hour of outage) the invocation is paused, not failed, so nothing is lost.
    """
    return restate.InvocationRetryPolicy(
        initial_interval=timedelta(milliseconds=100),
        exponentiation_factor=2.0,
        max_interval=timedelta(milliseconds=500),
        max_attempts=7200,
        on_max_attempts="pause",
    )


@dataclasses.dataclass(frozen=True)
class ServiceSettings:
    """Settings of a service built by :func:`agent_service`."""

    max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS
    """Longest user message accepted; longer ones fail terminally with HTTP 400."""
    durable: DurableSettings = dataclasses.field(default_factory=DurableSettings)
    """Retry settings of model calls and durable tools."""
    retry_policy: restate.InvocationRetryPolicy = dataclasses.field(default_factory=fast_retry_policy)
    """How the engine retries an invocation whose attempt failed (for example because the service died)."""


class _RawBytes(Serde[bytes]):
    """Hands the request body to the handler untouched, so the handler can reject bad input clearly."""

    def deserialize(self, buf: bytes) -> bytes | None:
        return bytes(buf)

    def serialize(self, obj: bytes | None) -> bytes:
        return obj or b""


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
    example = "e.g. curl localhost:8080/Agent/run --json '\"What is the weather in Detroit?\"'"
    if not body.strip():
        raise InvalidInputError(f"empty request body: send the message as a JSON string, {example}")
    try:
        value: Any = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"request body is not valid JSON ({error}): send a JSON string, {example}") from None
    if not isinstance(value, str):
        raise InvalidInputError(f"expected the message as a JSON string, got a JSON {_json_kind(value)}; {example}")
    if not value.strip():
        raise InvalidInputError("the message is empty")
    if len(value) > max_chars:
        raise InvalidInputError(
            f"the message has {len(value)} characters; the maximum is {max_chars} (ServiceSettings.max_message_chars)"
        )
    return value


def _json_kind(value: Any) -> str:
    kinds: tuple[tuple[type, str], ...] = ((bool, "boolean"), (int, "number"), (float, "number"), (list, "array"))
    for kind, name in kinds:
        if isinstance(value, kind):
            return name
    return "object" if isinstance(value, dict) else "null"


def agent_service(
    agent: Agent[Any],
    *,
    name: str = "Agent",
    run_config: Callable[[], RunConfig] | None = None,
    settings: ServiceSettings | None = None,
    description: str | None = None,
) -> restate.Service:
    """Build a Restate Service with a ``run`` handler: a user message (JSON string) in, the answer out.

    Every call is one durable agent turn: ``curl localhost:8080/<name>/run --json '"Hi"'``.

    Args:
        agent: The agent that answers.
        name: The Restate service name.
        run_config: Builds the SDK run configuration for each turn (model provider, model name, tracing).
        settings: Input limits, retry settings and the invocation retry policy.
        description: Shown in the Restate UI.

    Returns:
        The service; bind it into a ``restate.app``.
    """
    cfg = settings or ServiceSettings()
    service = restate.Service(
        name,
        description=description or f"Durable agent {agent.name!r}: POST a JSON string to /{name}/run.",
        invocation_retry_policy=cfg.retry_policy,
    )

    @service.handler(name="run", input_serde=_RawBytes(), accept="*/*")
    async def run(ctx: restate.Context, body: bytes) -> str:
        message = parse_message(body, cfg.max_message_chars)
        result = await DurableRunner.run(
            agent,
            message,
            run_config=run_config() if run_config is not None else None,
            settings=cfg.durable,
        )
        return str(result.final_output)

    return service
