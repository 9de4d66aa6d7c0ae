"""Journaled model calls: a :class:`agents.Model` wrapper and a :class:`agents.ModelProvider` wrapper.

Private module. Every ``get_response`` inside a durable run becomes one Restate ``run`` step named
``"llm: <agent> #<n>"``. The step's result is a :class:`JournaledModelResponse`; on replay Restate returns
it from the journal and the provider is not called again. Outside a durable run both wrappers are
transparent, so the same agent still works with a plain ``agents.Runner.run``.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING

from agents.items import ModelResponse, TResponseInputItem, TResponseStreamEvent
from agents.models.interface import Model, ModelProvider, ModelTracing
from openai.types.responses.response_prompt_param import ResponsePromptParam
from restate.serde import Serde

from resilient_agents import _tracing
from resilient_agents._durable import TypeAdapterSerde

from ._context import RunState, current_run, durable_context
from ._errors import classify_model_error
from ._journal import JournaledModelResponse
from ._request_body import install as _install_plain_requests
from ._request_body import plain_requests
from ._streaming import journaled_stream

if TYPE_CHECKING:
    from agents.agent_output import AgentOutputSchemaBase
    from agents.handoffs import Handoff
    from agents.model_settings import ModelSettings
    from agents.retry import ModelRetryAdvice, ModelRetryAdviceRequest
    from agents.tool import Tool

_JOURNAL_SERDE: Serde[JournaledModelResponse] = TypeAdapterSerde(JournaledModelResponse)


class DurableModel(Model):
    """Wraps any :class:`agents.Model` so that its responses are journaled by Restate.

    Args:
        model: The model that really calls the provider.
    """

    def __init__(self, model: Model) -> None:
        self.wrapped = model
        _install_plain_requests()  # Journaled calls skip the openai client's no-op request transform.

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> ModelResponse:
        """Call the wrapped model once per journal step; on replay return the journaled response."""
        run = current_run()
        span_parent = _tracing.parent() if run is not None else None
        step = run.next_llm_step_name(durable_context()) if run is not None else ""

        async def call() -> JournaledModelResponse:
            with (
                model_span(span_parent, self.wrapped, step, run, system_instructions, input) as span,
                plain_requests() if run is not None else nullcontext(),
            ):
                response = await self._call_wrapped(
                    system_instructions,
                    input,
                    model_settings,
                    tools,
                    output_schema,
                    handoffs,
                    tracing,
                    previous_response_id=previous_response_id,
                    conversation_id=conversation_id,
                    prompt=prompt,
                )
                record_response(span, response)
            return JournaledModelResponse.from_model_response(response)

        if run is None:
            return (await call()).to_model_response()
        response = await _journaled_call(run, step, call)
        _tracing.note_tool_batch(sum(1 for item in response.output if getattr(item, "type", "") == "function_call"))
        return response

    async def _call_wrapped(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> ModelResponse:
        """One call of the wrapped model; a provider failure is sorted into retried and terminal."""
        try:
            return await self.wrapped.get_response(
                system_instructions,
                input,
                model_settings,
                tools,
                output_schema,
                handoffs,
                tracing,
                previous_response_id=previous_response_id,
                conversation_id=conversation_id,
                prompt=prompt,
            )
        except Exception as error:
            mapped = classify_model_error(error, _host_of(self.wrapped))
            if mapped is error:
                raise
            raise mapped from error

    def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> AsyncIterator[TResponseStreamEvent]:
        """Stream the wrapped model's response; inside a durable run the call is one journaled step.

        The events reach the SDK as the provider sends them, and the complete response is journaled like a
        ``get_response`` (see ``_streaming``); on replay the journaled response is returned without streaming.
        """
        run = current_run()

        def open_stream() -> AsyncIterator[TResponseStreamEvent]:
            return self.wrapped.stream_response(
                system_instructions,
                input,
                model_settings,
                tools,
                output_schema,
                handoffs,
                tracing,
                previous_response_id=previous_response_id,
                conversation_id=conversation_id,
                prompt=prompt,
            )

        if run is None:
            return open_stream()
        options = run.settings.llm_retry_for(run.current_agent).run_options(_JOURNAL_SERDE)
        span_parent = _tracing.parent()

        @contextmanager
        def traced(step: str) -> Iterator[Callable[[ModelResponse], None]]:
            with model_span(span_parent, self.wrapped, step, run, system_instructions, input) as span, plain_requests():
                yield functools.partial(record_response, span)

        events = journaled_stream(run, open_stream, options, _host_of(self.wrapped), traced)
        return _noting_tool_batch(events) if span_parent is not None else events

    def get_retry_advice(self, request: ModelRetryAdviceRequest) -> ModelRetryAdvice | None:
        """Delegate retry advice to the wrapped model."""
        return self.wrapped.get_retry_advice(request)

    async def close(self) -> None:
        """Close the wrapped model."""
        await self.wrapped.close()


async def _noting_tool_batch(events: AsyncIterator[TResponseStreamEvent]) -> AsyncIterator[TResponseStreamEvent]:
    """Pass the events on; at the completed response, note its number of tool calls for the tool spans."""
    async for event in events:
        if event.type == "response.completed":
            output = event.response.output
            _tracing.note_tool_batch(sum(1 for item in output if getattr(item, "type", "") == "function_call"))
        yield event


async def _journaled_call(run: RunState, step: str, call: _Call) -> ModelResponse:
    ctx = durable_context()
    options = run.settings.llm_retry_for(run.current_agent).run_options(_JOURNAL_SERDE)
    journaled: JournaledModelResponse = await ctx.run_typed(step, call, options)
    return journaled.to_model_response()


@contextmanager
def model_span(
    span_parent: _tracing.Parent | None,
    model: Model,
    step: str,
    run: RunState | None,
    system_instructions: str | None,
    input: str | list[TResponseInputItem],
) -> Iterator[_tracing.SpanHandle]:
    """The span of one execution of a model call (opened inside the journaled step: replays emit none)."""
    if run is None:
        yield _tracing.SpanHandle(None)
        return
    agent, name, host = run.current_agent, _model_name(model), _host_of(model)
    with _tracing.model_call(span_parent, step=step, agent=agent, model=name, host=host) as span:
        span.set_content("input.value", {"instructions": system_instructions, "input": input})
        yield span


def record_response(span: _tracing.SpanHandle, response: ModelResponse) -> None:
    """Put a model response's tokens, finish reason and (opted in) output on its span."""
    if span.span is None:
        return
    span.usage(response.usage.input_tokens, response.usage.output_tokens)
    calls = any(getattr(item, "type", "") == "function_call" for item in response.output)
    span.set("gen_ai.response.finish_reasons", ["tool_calls" if calls else "stop"])
    span.set("gen_ai.response.id", response.response_id)
    if _tracing.content_enabled():
        span.set_content("output.value", [item.model_dump(mode="json", exclude_unset=True) for item in response.output])


def _model_name(model: Model) -> str | None:
    name = getattr(model, "model", None)
    return str(name) if name else None


class DurableModelProvider(ModelProvider):
    """Wraps a :class:`agents.ModelProvider` so that every model it hands out is a :class:`DurableModel`.

    Args:
        provider: The provider that resolves model names (for example ``agents.OpenAIProvider``).
    """

    def __init__(self, provider: ModelProvider) -> None:
        self.wrapped = provider

    def get_model(self, model_name: str | None) -> Model:
        """Resolve ``model_name`` with the wrapped provider and make the result durable."""
        return as_durable(self.wrapped.get_model(model_name))

    async def aclose(self) -> None:
        """Close the wrapped provider."""
        await self.wrapped.aclose()


def _host_of(model: Model) -> str:
    """The host a model talks to (``api.openai.com``), for error messages; empty when it cannot be told."""
    client = getattr(model, "_client", None)
    base_url = getattr(client, "base_url", None)
    host = getattr(base_url, "host", None)
    if not host:
        return ""
    port = getattr(base_url, "port", None)
    return f"{host}:{port}" if port else str(host)


def as_durable(model: Model) -> DurableModel:
    """Return ``model`` wrapped in a :class:`DurableModel`, or ``model`` itself if it already is one."""
    return model if isinstance(model, DurableModel) else DurableModel(model)


if TYPE_CHECKING:
    from collections.abc import Coroutine
    from typing import Any

    _Call = Callable[[], Coroutine[Any, Any, JournaledModelResponse]]
