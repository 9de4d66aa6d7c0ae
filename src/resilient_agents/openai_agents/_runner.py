"""``DurableRunner``: ``agents.Runner.run`` inside a Restate handler, with every model call journaled.

Private module.
"""

from __future__ import annotations

import contextvars
import dataclasses
from collections.abc import Iterator
from typing import Any

import openai
import restate
from agents import Agent, AgentHookContext, RunConfig, RunHooks, Runner, RunResult, RunResultStreaming, TContext
from agents.agent import AgentBase
from agents.exceptions import AgentsException
from agents.handoffs import Handoff
from agents.items import ModelResponse, TResponseInputItem
from agents.memory import Session
from agents.models.interface import Model, ModelProvider
from agents.models.multi_provider import MultiProvider
from agents.run import DEFAULT_MAX_TURNS, AgentRunner, get_default_agent_runner, set_default_agent_runner
from agents.run_context import RunContextWrapper
from agents.run_error_handlers import RunErrorHandlers
from agents.run_state import RunState as SdkRunState
from agents.tool import Tool

from resilient_agents import _tracing
from resilient_agents._progress import install as _install_progress_driver

from ._context import InvocationCancelled, RunState, bind_run, current_run, durable_context, leaving_error
from ._model import DurableModelProvider, as_durable
from ._settings import DurableSettings
from ._streaming import as_durable_result
from ._tools import is_durable_tool


class DurableRunner:
    """Runs an ``agents.Agent`` durably inside a Restate handler.

    It is ``agents.Runner.run`` with three additions:

    * every model call is a journaled step (``"llm: <agent> #<n>"``), whether the model comes from the
      run's model provider or is given to an agent as a ``Model`` instance;
    * tools reach the handler's context through :func:`durable_context`, and :func:`durable_tool`
      journals a tool's result;
    * provider failures are sorted into retried and terminal (see :class:`RetrySettings`).
    """

    @staticmethod
    async def run(
        starting_agent: Agent[TContext],
        input: str | list[TResponseInputItem] | SdkRunState[TContext],
        *,
        context: TContext | None = None,
        max_turns: int | None = DEFAULT_MAX_TURNS,
        hooks: RunHooks[TContext] | None = None,
        run_config: RunConfig | dict[str, Any] | None = None,
        error_handlers: RunErrorHandlers[TContext] | None = None,
        previous_response_id: str | None = None,
        auto_previous_response_id: bool = False,
        conversation_id: str | None = None,
        session: Session | None = None,
        settings: DurableSettings | None = None,
    ) -> RunResult:
        """Run ``starting_agent`` on ``input``; the arguments are those of ``agents.Runner.run``, plus ``settings``.

        The SDK's failures that no retry can fix (``MaxTurnsExceeded``, a model that broke the protocol, a
        guardrail tripwire, a usage error) leave as a :class:`TerminalAgentError` (the invocation fails
        with the message and is not retried); a cancellation of the invocation leaves as Restate's
        ``TerminalError("cancelled", 409)``, also when it arrived while a tool was running.

        Args:
            starting_agent: The agent to start with.
            input: The user's message or a list of input items.
            context: The run context handed to tools and hooks (not journaled: keep it derivable from the
                handler's input or state).
            max_turns: The SDK's turn limit.
            hooks: Lifecycle hooks; they run again on replay, so keep them free of side effects.
            run_config: The SDK's run configuration. Its model provider (or the SDK's default one) is
                wrapped so that every model call is journaled.
            error_handlers: The SDK's run error handlers.
            session: An SDK session for conversation memory.
            settings: Retry settings for model calls and durable tools.

        Returns:
            The SDK's :class:`agents.RunResult`.

        Raises:
            ResilientAgentsError: When called outside a Restate handler.
        """
        ctx = durable_context()  # Fail early, with a clear message, outside a handler.
        config = _prepare(starting_agent, run_config)
        nested = current_run() is not None
        state = RunState(settings=settings or DurableSettings(), current_agent=starting_agent.name)
        with _tracing.turn(ctx, agent=starting_agent.name, path="openai-agents"), bind_run(state):
            entering = _ENTERING.set(True)
            try:
                return await Runner.run(
                    starting_agent,
                    input,
                    context=context,
                    max_turns=max_turns,
                    hooks=_NamingHooks(state, hooks),
                    run_config=config,
                    error_handlers=error_handlers,
                    previous_response_id=previous_response_id,
                    auto_previous_response_id=auto_previous_response_id,
                    conversation_id=conversation_id,
                    session=session,
                )
            except (InvocationCancelled, restate.TerminalError, AgentsException, openai.OpenAIError) as error:
                mapped = leaving_error(error, nested=nested)
                if mapped is error:
                    raise
                raise mapped from error
            finally:
                _ENTERING.reset(entering)

    @staticmethod
    def run_streamed(
        starting_agent: Agent[TContext],
        input: str | list[TResponseInputItem] | SdkRunState[TContext],
        context: TContext | None = None,
        max_turns: int | None = DEFAULT_MAX_TURNS,
        hooks: RunHooks[TContext] | None = None,
        run_config: RunConfig | dict[str, Any] | None = None,
        previous_response_id: str | None = None,
        auto_previous_response_id: bool = False,
        conversation_id: str | None = None,
        session: Session | None = None,
        *,
        error_handlers: RunErrorHandlers[TContext] | None = None,
        settings: DurableSettings | None = None,
    ) -> RunResultStreaming:
        """``agents.Runner.run_streamed`` inside a Restate handler; the arguments are the SDK's, plus ``settings``.

        Each model call streams from the provider and is journaled as one step once its response is
        complete (the same ``llm: <agent> #<n>`` step and record as :meth:`run`); on replay the journaled
        response is used and nothing is streamed again for it. The text deltas also go to the invocation's
        side channel, ``GET /_streams/<invocation id>`` on the service's port (served by :func:`durable_app`).
        Consume ``stream_events()`` to the end in the handler: it ends the side channel with ``done`` or
        ``failed`` and raises the run's failure as :meth:`run` does (:class:`TerminalAgentError`, or
        ``TerminalError("cancelled", 409)``).

        Returns:
            The SDK's :class:`agents.RunResultStreaming`.

        Raises:
            ResilientAgentsError: When called outside a Restate handler.
        """
        ctx = durable_context()  # Fail early, with a clear message, outside a handler.
        config = _prepare(starting_agent, run_config)
        state = RunState(settings=settings or DurableSettings(), current_agent=starting_agent.name)
        with bind_run(state):  # The SDK starts the run's task here; the task keeps the binding.
            try:
                result = Runner.run_streamed(
                    starting_agent,
                    input,
                    context=context,
                    max_turns=max_turns,
                    hooks=_NamingHooks(state, hooks),
                    run_config=config,
                    previous_response_id=previous_response_id,
                    auto_previous_response_id=auto_previous_response_id,
                    conversation_id=conversation_id,
                    session=session,
                    error_handlers=error_handlers,
                )
            except AgentsException as error:
                raise leaving_error(error, nested=False) from error  # Always a TerminalAgentError here.
        return as_durable_result(result, ctx.request().id)


def _prepare(starting_agent: Agent[Any], run_config: RunConfig | dict[str, Any] | None) -> RunConfig:
    """Make everything a durable run needs ready: the fixes it relies on, and journaled models everywhere."""
    _install_progress_driver()  # Concurrent tasks (guardrails, tools, gathered runs) must not stall.
    _install_nested_runner()
    config = RunConfig(**run_config) if isinstance(run_config, dict) else run_config or RunConfig()
    config = dataclasses.replace(config, model_provider=_durable_provider(config.model_provider))
    if isinstance(config.model, Model):
        config = dataclasses.replace(config, model=as_durable(config.model))
    for agent in _reachable_agents(starting_agent):
        _make_model_durable(agent)
    return config


_ENTERING: contextvars.ContextVar[bool] = contextvars.ContextVar("resilient_agents_entering", default=False)
"""True between ``DurableRunner.run`` calling the SDK's ``Runner.run`` and the SDK's runner starting."""


class _NestedDurableRunner(AgentRunner):
    """The SDK's default runner, except that a ``Runner.run`` *inside* a durable run is durable too.

    The SDK runs nested agents itself (``Agent.as_tool``, a guardrail or tool that calls ``Runner.run``).
    Inside a durable run such a call goes through :meth:`DurableRunner.run`: its model calls are journaled
    under the sub-agent's own name (``llm: <SubAgent> #n``) with a run state of its own, so it cannot take
    over the parent's tool bookkeeping. Everywhere else it is the runner it replaces.
    """

    def __init__(self, inner: AgentRunner) -> None:
        self.inner = inner

    async def run(
        self,
        starting_agent: Agent[TContext],
        input: str | list[TResponseInputItem] | SdkRunState[TContext],
        **kwargs: Any,
    ) -> RunResult:
        """Run as the SDK does, or durably when called from inside a durable run."""
        parent = current_run()
        if _ENTERING.get() or parent is None:
            token = _ENTERING.set(False)  # Runs started from inside this one are nested again.
            try:
                return await self.inner.run(starting_agent, input, **kwargs)
            finally:
                _ENTERING.reset(token)
        return await DurableRunner.run(starting_agent, input, **kwargs, settings=parent.settings)


def _install_nested_runner() -> None:
    current = get_default_agent_runner()
    if not isinstance(current, _NestedDurableRunner):
        set_default_agent_runner(_NestedDurableRunner(current))


def _durable_provider(provider: ModelProvider | None) -> ModelProvider:
    if isinstance(provider, DurableModelProvider):
        return provider
    return DurableModelProvider(provider if provider is not None else MultiProvider())


def _make_model_durable(agent: AgentBase[Any]) -> None:
    # A ``Model`` instance on the agent bypasses the run's model provider, so it is wrapped where it is.
    # The wrapper is transparent outside a durable run, so the agent keeps working with a plain Runner.
    if isinstance(agent, Agent) and isinstance(agent.model, Model):
        agent.model = as_durable(agent.model)


def _reachable_agents(start: Agent[Any]) -> Iterator[AgentBase[Any]]:
    seen: set[int] = set()
    pending: list[AgentBase[Any]] = [start]
    while pending:
        agent = pending.pop()
        if id(agent) in seen:
            continue
        seen.add(id(agent))
        yield agent
        for target in getattr(agent, "handoffs", []):
            resolved = _handoff_target(target)
            if resolved is not None:
                pending.append(resolved)


def _handoff_target(target: Agent[Any] | Handoff[Any, Any]) -> AgentBase[Any] | None:
    if isinstance(target, AgentBase):
        return target
    ref = getattr(target, "_agent_ref", None)  # Set by ``agents.handoff(agent)``; absent for custom handoffs.
    return ref() if ref is not None else None


class _NamingHooks(RunHooks[Any]):
    """Records which agent makes the next model call (for step names), then calls the user's hooks."""

    def __init__(self, state: RunState, inner: RunHooks[Any] | None) -> None:
        self._state = state
        self._inner = inner

    async def on_llm_start(
        self,
        context: RunContextWrapper[Any],
        agent: Agent[Any],
        system_prompt: str | None,
        input_items: list[TResponseInputItem],
    ) -> None:
        self._state.current_agent = agent.name
        if self._inner is not None:
            await self._inner.on_llm_start(context, agent, system_prompt, input_items)

    async def on_llm_end(self, context: RunContextWrapper[Any], agent: Agent[Any], response: ModelResponse) -> None:
        if self._inner is not None:
            await self._inner.on_llm_end(context, agent, response)

    async def on_agent_start(self, context: AgentHookContext[Any], agent: Agent[Any]) -> None:
        # Agents reached through custom handoffs are only known now; wrap their models before first use.
        _make_model_durable(agent)
        if self._inner is not None:
            await self._inner.on_agent_start(context, agent)

    async def on_agent_end(self, context: AgentHookContext[Any], agent: Agent[Any], output: Any) -> None:
        if self._inner is not None:
            await self._inner.on_agent_end(context, agent, output)

    async def on_handoff(self, context: RunContextWrapper[Any], from_agent: Agent[Any], to_agent: Agent[Any]) -> None:
        _tracing.handoff(None, from_agent.name, to_agent.name)
        if self._inner is not None:
            await self._inner.on_handoff(context, from_agent, to_agent)

    async def on_tool_start(self, context: RunContextWrapper[Any], agent: Agent[Any], tool: Tool) -> None:
        if not is_durable_tool(tool):  # A durable tool traces itself, inside its step.
            _tracing.start_plain_tool(getattr(context, "tool_call_id", None), tool.name)
        if self._inner is not None:
            await self._inner.on_tool_start(context, agent, tool)

    async def on_tool_end(self, context: RunContextWrapper[Any], agent: Agent[Any], tool: Tool, result: object) -> None:
        _tracing.end_plain_tool(getattr(context, "tool_call_id", None), result)
        if self._inner is not None:
            await self._inner.on_tool_end(context, agent, tool, result)
