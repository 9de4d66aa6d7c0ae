"""Per-run state shared by the durable model, the durable tools and the runner.

Private module. The state travels in a context variable, so it reaches every task the SDK starts for
one run (tool calls run as separate asyncio tasks) and nothing outside it.
"""

from __future__ import annotations

import contextvars
import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

import openai
import restate
from agents.exceptions import AgentsException
from restate.server_context import current_context

from resilient_agents.errors import ResilientAgentsError, TerminalAgentError

from ._settings import DurableSettings


@dataclasses.dataclass
class RunState:
    """Mutable bookkeeping for one durable agent run."""

    settings: DurableSettings
    """Retry options and names for this run."""
    current_agent: str = "agent"
    """Name of the agent whose model call comes next (set from the ``on_llm_start`` hook)."""

    def next_llm_step_name(self, ctx: restate.Context) -> str:
        """Return the journal name of the next model call, e.g. ``"llm: WeatherAgent #1"``.

        Model calls are numbered across the whole invocation (all runs of one handler, nested runs and
        runs gathered concurrently included), so no two steps of a journal share a name.
        """
        number = getattr(ctx, _LLM_STEPS_ATTRIBUTE, 0) + 1
        setattr(ctx, _LLM_STEPS_ATTRIBUTE, number)
        return f"llm: {self.current_agent} #{number}"


_LLM_STEPS_ATTRIBUTE = "_resilient_agents_llm_steps"


class InvocationCancelled(BaseException):
    """Carries Restate's cancellation of the invocation out of a tool, past the SDK's tool error handling.

    The SDK turns any ``Exception`` a tool raises into a message for the model, which would swallow the
    cancellation (the run would go on and ask the model again). This is a ``BaseException``, so it passes
    through; :meth:`DurableRunner.run` turns it back into ``TerminalError("cancelled", 409)``.
    """


def is_cancellation(error: BaseException) -> bool:
    """Whether ``error`` is Restate's cancellation of the running invocation."""
    return isinstance(error, restate.TerminalError) and error.status_code == 409 and error.message == "cancelled"


def leaving_error(error: BaseException, *, nested: bool) -> BaseException:
    """The error a durable run raises in place of ``error``, at the border where it leaves our code.

    The SDK's failures that no retry fixes become a :class:`TerminalAgentError`; a cancellation becomes
    ``TerminalError("cancelled", 409)``, or :class:`InvocationCancelled` for a nested run, so that it passes
    the parent's tool (``as_tool``) without becoming a tool error there; anything else stays as it is.
    """
    if isinstance(error, InvocationCancelled) or (isinstance(error, restate.TerminalError) and is_cancellation(error)):
        return InvocationCancelled() if nested else restate.TerminalError("cancelled", 409)
    if isinstance(error, AgentsException):
        return TerminalAgentError(f"the agent run failed: {type(error).__name__}: {error}")
    if isinstance(error, openai.OpenAIError) and not isinstance(error, openai.APIError):
        # The client could not even be built (no key, no base URL): every retry would fail the same way.
        return TerminalAgentError(
            f"the model client cannot be built: {error} Configure a model in the service's environment "
            "(OPENAI_API_KEY, OPENAI_BASE_URL, ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL: see resilient_agents.config) "
            "or pass run_config"
        )
    return error


_RUN_STATE: contextvars.ContextVar[RunState | None] = contextvars.ContextVar("resilient_agents_run", default=None)


def current_run() -> RunState | None:
    """Return the state of the durable run this task belongs to, or ``None`` outside one."""
    return _RUN_STATE.get()


@contextmanager
def bind_run(state: RunState) -> Iterator[RunState]:
    """Make ``state`` the current run for this task and the tasks it starts."""
    token = _RUN_STATE.set(state)
    try:
        yield state
    finally:
        _RUN_STATE.reset(token)


def handler_context() -> restate.Context | None:
    """The Restate context of the handler running this task, or ``None`` outside one."""
    try:
        return current_context()
    except LookupError:  # The SDK's context variable has no default outside a handler.
        return None


_IN_TOOL_STEP: contextvars.ContextVar[str | None] = contextvars.ContextVar("resilient_agents_step", default=None)


@contextmanager
def in_tool_step(tool_name: str) -> Iterator[None]:
    """Mark code as running inside the journaled step of tool ``tool_name`` (durable actions are not allowed)."""
    token = _IN_TOOL_STEP.set(tool_name)
    try:
        yield
    finally:
        _IN_TOOL_STEP.reset(token)


def durable_context() -> restate.Context:
    """Return the Restate context of the handler that is running this agent.

    Call it from a tool to run a journaled step (``ctx.run_typed``), sleep durably (``ctx.sleep``), call
    another service, or create an awakeable.

    Raises:
        ResilientAgentsError: When called outside a Restate handler, or inside the body of a
            ``@durable_tool`` that is one journaled step (use ``@durable_tool(durable_actions=True)`` there).
    """
    step = _IN_TOOL_STEP.get()
    if step is not None:
        raise ResilientAgentsError(
            f"tool {step!r} uses durable actions (durable_context()) inside its journaled step, where Restate "
            "allows none: declare it with @durable_tool(durable_actions=True), so that its body runs in the turn and "
            "each durable action is journaled on its own"
        )
    ctx = handler_context()
    if ctx is None:
        raise ResilientAgentsError(
            "durable_context() was called outside a Restate handler; call it from a tool of an agent run "
            "with resilient_agents.openai_agents.DurableRunner.run inside a handler"
        )
    return ctx


def durable_object_context() -> restate.ObjectContext:
    """Return the Restate context as an :class:`restate.ObjectContext` (state access of a Virtual Object).

    Raises:
        ResilientAgentsError: When called outside a Restate handler.
    """
    return cast(restate.ObjectContext, durable_context())
