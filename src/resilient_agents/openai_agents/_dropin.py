"""``Runner`` and ``function_tool`` of :mod:`resilient_agents.openai_agents.sdk`. Private module."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, overload

import agents as _sdk
from agents import Agent, AgentsException, FunctionTool, RunConfig, RunHooks, RunResult, RunResultStreaming, TContext
from agents.agent import AgentBase
from agents.function_schema import DocstringStyle
from agents.items import TResponseInputItem
from agents.memory import Session
from agents.run import DEFAULT_MAX_TURNS
from agents.run_context import RunContextWrapper
from agents.run_error_handlers import RunErrorHandlers
from agents.run_state import RunState
from agents.tool import (
    _UNSET_FAILURE_ERROR_FUNCTION,
    FunctionToolCustomDataExtractor,
    ToolCaller,
    ToolErrorFunction,
    ToolFunction,
    ToolTimeoutBehavior,
)
from agents.tool_guardrails import ToolInputGuardrail, ToolOutputGuardrail
from agents.util._types import MaybeAwaitable

from resilient_agents.errors import TerminalAgentError

from ._context import handler_context
from ._runner import DurableRunner
from ._tool_spec import register
from ._tools import DURABLE_MARK, _journaled, _return_type

__all__ = ["Runner", "function_tool"]


class Runner(_sdk.Runner):
    """The SDK's ``Runner``, durable inside a Restate handler.

    ``Runner.run`` inside a handler is :meth:`DurableRunner.run`: every model call is a journaled step and
    ``durable_tool`` results are journaled, so a crash resumes the run where it stopped. Outside a handler it is
    ``agents.Runner.run``, so the same program still runs as a plain script.
    """

    @classmethod
    async def run(
        cls,
        starting_agent: Agent[TContext],
        input: str | list[TResponseInputItem] | RunState[TContext],
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
    ) -> RunResult:
        """Run ``starting_agent`` on ``input``, durably inside a Restate handler; see ``agents.Runner.run``.

        The SDK's exceptions (``InputGuardrailTripwireTriggered``, ``MaxTurnsExceeded``...) reach the caller as
        they would from the SDK, so ``except`` clauses written for it still match.
        """
        if handler_context() is None:
            return await _sdk.Runner.run(
                starting_agent,
                input,
                context=context,
                max_turns=max_turns,
                hooks=hooks,
                run_config=run_config,
                error_handlers=error_handlers,
                previous_response_id=previous_response_id,
                auto_previous_response_id=auto_previous_response_id,
                conversation_id=conversation_id,
                session=session,
            )
        try:
            return await DurableRunner.run(
                starting_agent,
                input,
                context=context,
                max_turns=max_turns,
                hooks=hooks,
                run_config=run_config,
                error_handlers=error_handlers,
                previous_response_id=previous_response_id,
                auto_previous_response_id=auto_previous_response_id,
                conversation_id=conversation_id,
                session=session,
            )
        except TerminalAgentError as error:
            # DurableRunner wraps the SDK's failures for services (terminal, not retried); a program that catches
            # them expects the SDK's own exception. Uncaught, it still fails the invocation terminally.
            if isinstance(error.__cause__, AgentsException):
                raise error.__cause__ from None
            raise

    @classmethod
    def run_sync(
        cls,
        starting_agent: Agent[TContext],
        input: str | list[TResponseInputItem] | RunState[TContext],
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
    ) -> RunResult:
        """``agents.Runner.run_sync`` outside a Restate handler.

        Raises:
            TerminalAgentError: Inside a handler: waiting synchronously would block the event loop the handler
                runs on (the run could never finish). Use ``await Runner.run(...)`` there.
        """
        if handler_context() is not None:
            raise TerminalAgentError(
                "Runner.run_sync was called inside a Restate handler, where it would block the handler's event "
                "loop; use `await Runner.run(...)` in an async function instead"
            )
        return _sdk.Runner.run_sync(
            starting_agent,
            input,
            context=context,
            max_turns=max_turns,
            hooks=hooks,
            run_config=run_config,
            error_handlers=error_handlers,
            previous_response_id=previous_response_id,
            auto_previous_response_id=auto_previous_response_id,
            conversation_id=conversation_id,
            session=session,
        )

    @classmethod
    def run_streamed(
        cls,
        starting_agent: Agent[TContext],
        input: str | list[TResponseInputItem] | RunState[TContext],
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
    ) -> RunResultStreaming:
        """``agents.Runner.run_streamed``; inside a Restate handler :meth:`DurableRunner.run_streamed`."""
        if handler_context() is not None:
            return DurableRunner.run_streamed(
                starting_agent,
                input,
                context,
                max_turns,
                hooks,
                run_config,
                previous_response_id,
                auto_previous_response_id,
                conversation_id,
                session,
                error_handlers=error_handlers,
            )
        return _sdk.Runner.run_streamed(
            starting_agent,
            input,
            context,
            max_turns,
            hooks,
            run_config,
            previous_response_id,
            auto_previous_response_id,
            conversation_id,
            session,
            error_handlers=error_handlers,
        )


IsEnabled = bool | Callable[[RunContextWrapper[Any], AgentBase[Any]], MaybeAwaitable[bool]]
NeedsApproval = bool | Callable[[RunContextWrapper[Any], dict[str, Any], str], Awaitable[bool]]


@overload
def function_tool(
    func: ToolFunction[...],
    *,
    name_override: str | None = None,
    description_override: str | None = None,
    docstring_style: DocstringStyle | None = None,
    use_docstring_info: bool = True,
    failure_error_function: ToolErrorFunction | None = None,
    strict_mode: bool = True,
    is_enabled: IsEnabled = True,
    needs_approval: NeedsApproval = False,
    tool_input_guardrails: list[ToolInputGuardrail[Any]] | None = None,
    tool_output_guardrails: list[ToolOutputGuardrail[Any]] | None = None,
    timeout: float | None = None,
    timeout_behavior: ToolTimeoutBehavior = "error_as_result",
    timeout_error_function: ToolErrorFunction | None = None,
    defer_loading: bool = False,
    custom_data_extractor: FunctionToolCustomDataExtractor | None = None,
    allowed_callers: list[ToolCaller] | None = None,
    output_type: Any | None = None,
    output_json_schema: dict[str, Any] | None = None,
    durable: bool = True,
) -> FunctionTool: ...


@overload
def function_tool(
    *,
    name_override: str | None = None,
    description_override: str | None = None,
    docstring_style: DocstringStyle | None = None,
    use_docstring_info: bool = True,
    failure_error_function: ToolErrorFunction | None = None,
    strict_mode: bool = True,
    is_enabled: IsEnabled = True,
    needs_approval: NeedsApproval = False,
    tool_input_guardrails: list[ToolInputGuardrail[Any]] | None = None,
    tool_output_guardrails: list[ToolOutputGuardrail[Any]] | None = None,
    timeout: float | None = None,
    timeout_behavior: ToolTimeoutBehavior = "error_as_result",
    timeout_error_function: ToolErrorFunction | None = None,
    defer_loading: bool = False,
    custom_data_extractor: FunctionToolCustomDataExtractor | None = None,
    allowed_callers: list[ToolCaller] | None = None,
    output_type: Any | None = None,
    output_json_schema: dict[str, Any] | None = None,
    durable: bool = True,
) -> Callable[[ToolFunction[...]], FunctionTool]: ...


def function_tool(
    func: ToolFunction[...] | None = None,
    *,
    name_override: str | None = None,
    description_override: str | None = None,
    docstring_style: DocstringStyle | None = None,
    use_docstring_info: bool = True,
    failure_error_function: ToolErrorFunction | object | None = _UNSET_FAILURE_ERROR_FUNCTION,
    strict_mode: bool = True,
    is_enabled: IsEnabled = True,
    needs_approval: NeedsApproval = False,
    tool_input_guardrails: list[ToolInputGuardrail[Any]] | None = None,
    tool_output_guardrails: list[ToolOutputGuardrail[Any]] | None = None,
    timeout: float | None = None,
    timeout_behavior: ToolTimeoutBehavior = "error_as_result",
    timeout_error_function: ToolErrorFunction | None = None,
    defer_loading: bool = False,
    custom_data_extractor: FunctionToolCustomDataExtractor | None = None,
    allowed_callers: list[ToolCaller] | None = None,
    output_type: Any | None = None,
    output_json_schema: dict[str, Any] | None = None,
    durable: bool = True,
) -> FunctionTool | Callable[[ToolFunction[...]], FunctionTool]:
    """``agents.function_tool``, journaled by default: the arguments are the SDK's, plus ``durable``.

    With ``durable=True`` (the default) the tool is a :func:`durable_tool`: inside a durable run its body is one
    journaled step (``tool: <name>``) that runs until it succeeds once, and a replay takes its result from the
    journal; several such calls in one model response run concurrently, each as its own invocation. Its return
    value must be serializable by pydantic, and a run context it takes must be a pydantic model or a dataclass.
    Outside a durable run it is the SDK's plain tool.

    Args:
        func: The tool function; as in ``agents.function_tool``.
        name_override: As in ``agents.function_tool``.
        description_override: As in ``agents.function_tool``.
        docstring_style: As in ``agents.function_tool``.
        use_docstring_info: As in ``agents.function_tool``.
        failure_error_function: As in ``agents.function_tool`` (the same default message for the model).
        strict_mode: As in ``agents.function_tool``.
        is_enabled: As in ``agents.function_tool``.
        needs_approval: As in ``agents.function_tool``.
        tool_input_guardrails: As in ``agents.function_tool``.
        tool_output_guardrails: As in ``agents.function_tool``.
        timeout: As in ``agents.function_tool``.
        timeout_behavior: As in ``agents.function_tool``.
        timeout_error_function: As in ``agents.function_tool``.
        defer_loading: As in ``agents.function_tool``.
        custom_data_extractor: As in ``agents.function_tool``.
        allowed_callers: As in ``agents.function_tool``.
        output_type: As in ``agents.function_tool``.
        output_json_schema: As in ``agents.function_tool``.
        durable: Journal the tool's result inside a durable run (default). ``False`` gives the SDK's plain
            tool, which runs again on replay: for tools without side effects, or whose body uses durable actions
            itself through ``durable_context()`` (or use ``durable_tool(durable_actions=True)``).

    Returns:
        A ``FunctionTool``, or a decorator producing one when called with options only.
    """
    options: dict[str, Any] = {
        "name_override": name_override,
        "description_override": description_override,
        "docstring_style": docstring_style,
        "use_docstring_info": use_docstring_info,
        "failure_error_function": failure_error_function,
        "strict_mode": strict_mode,
        "is_enabled": is_enabled,
        "needs_approval": needs_approval,
        "tool_input_guardrails": tool_input_guardrails,
        "tool_output_guardrails": tool_output_guardrails,
        "timeout": timeout,
        "timeout_behavior": timeout_behavior,
        "timeout_error_function": timeout_error_function,
        "defer_loading": defer_loading,
        "custom_data_extractor": custom_data_extractor,
        "allowed_callers": allowed_callers,
        "output_type": output_type,
        "output_json_schema": output_json_schema,
    }

    def decorate(fn: ToolFunction[...]) -> FunctionTool:
        if not durable:
            return _sdk.function_tool(fn, **options)
        return _journaled_function_tool(fn, options)

    return decorate(func) if func is not None else decorate


def _journaled_function_tool(fn: ToolFunction[...], options: dict[str, Any]) -> FunctionTool:
    """What ``durable_tool`` builds, with every option of the SDK's ``function_tool`` passed through.

    Unlike ``durable_tool``, the SDK's default ``failure_error_function`` stays: the model reads the same
    messages as from the plain program.
    """
    name = options["name_override"] or fn.__name__
    entry = register(name, fn, _return_type(fn))
    tool = _sdk.function_tool(_journaled(entry, None), **{**options, "name_override": name})
    setattr(tool, DURABLE_MARK, entry)
    return tool
