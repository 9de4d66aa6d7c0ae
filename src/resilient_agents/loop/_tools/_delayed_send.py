"""Tool kind (d): a delayed, durable send, e.g. a reminder. Private module."""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from datetime import timedelta
from typing import Any

import restate
from pydantic import BaseModel, Field, create_model

from .._settings import LoopSettings
from .._types import ToolCallRequest, ToolDefinition
from ._base import (
    ArgumentError,
    LoopToolContext,
    Ready,
    ToolStart,
    object_schema,
    parse_arguments,
    started,
    validate_arguments,
)


@dataclasses.dataclass(frozen=True)
class DelayedSendTool:
    """Schedules a handler call for later with a durable, delayed send (e.g. a reminder).

    The send is journaled when the tool runs; the engine fires it after the delay even if the service restarts
    in between. The model gives the delay in seconds (bounded by :attr:`LoopSettings.max_send_delay`).
    """

    name: str
    """The tool's name, as the model sees it."""
    description: str
    """What the tool does, for the model."""
    service: str
    """The Restate service or Virtual Object name to send to."""
    handler: str
    """The handler name."""
    keyed_by_session: bool = True
    """Whether the target is a Virtual Object addressed by the session's key."""
    input_model: type[BaseModel] | None = None
    """The handler's input, filled by the model; ``None`` for a handler without input."""
    delay_field: str = "delay_seconds"
    """The argument holding the delay in seconds."""

    @functools.cached_property
    def args_model(self) -> type[BaseModel]:
        """The arguments the model fills: the input model's fields plus the delay (built once)."""
        fields: dict[str, Any] = {
            self.delay_field: (
                float,
                Field(ge=0, allow_inf_nan=False, description="How many seconds from now to do it."),
            )
        }
        return create_model(f"{self.name}_arguments", __base__=self.input_model or BaseModel, **fields)

    def definition(self) -> ToolDefinition:
        """The tool as offered to the model."""
        return ToolDefinition(name=self.name, description=self.description, parameters=object_schema(self.args_model))

    def start(
        self, ctx: restate.Context, call: ToolCallRequest, tool_ctx: LoopToolContext, settings: LoopSettings
    ) -> ToolStart:
        """Validate the call's arguments and journal the delayed send; the output is ready at once."""
        return started(self.name, lambda: self._start(ctx, call, tool_ctx, settings))

    def _start(
        self, ctx: restate.Context, call: ToolCallRequest, tool_ctx: LoopToolContext, settings: LoopSettings
    ) -> ToolStart:
        args = validate_arguments(self.args_model, self.name, parse_arguments(call))
        assert args is not None
        delay = _delay(self.name, self.delay_field, getattr(args, self.delay_field), settings.max_send_delay)
        data = args.model_dump(mode="json", by_alias=True, exclude={self.delay_field})
        payload = json.dumps(data).encode() if self.input_model is not None else b""
        key = tool_ctx.session_key if self.keyed_by_session else None
        if self.keyed_by_session and not key:
            raise ArgumentError(f"{self.name!r} acts on the session's own record and needs a session; there is none")
        ctx.generic_send(self.service, self.handler, payload, key=key, send_delay=delay)
        return Ready(f"scheduled: {self.service}.{self.handler} runs in {delay.total_seconds():g} seconds")


def _delay(tool: str, field: str, seconds: float, limit: timedelta) -> timedelta:
    """The delay the model asked for, checked BEFORE it becomes a ``timedelta`` (``1e20`` s would overflow)."""
    if not math.isfinite(seconds) or not 0 <= seconds <= limit.total_seconds():
        raise ArgumentError(
            f"{field}={seconds!r} is out of range: {tool!r} can schedule at most {limit.total_seconds():.0f} "
            f"seconds ({limit}) ahead, and not in the past"
        )
    return timedelta(seconds=seconds)


def delayed_send_tool(
    name: str,
    service: str,
    handler: str,
    *,
    description: str,
    input_model: type[BaseModel] | None = None,
    keyed_by_session: bool = True,
) -> DelayedSendTool:
    """A tool that schedules a handler call after a delay the model chooses (a durable, delayed send).

    Args:
        name: The tool's name, as the model sees it.
        service: The Restate service or Virtual Object to send to.
        handler: The handler name.
        description: What the tool does, for the model.
        input_model: The handler's input, filled by the model (besides ``delay_seconds``).
        keyed_by_session: Send to the Virtual Object with the session's key (``False`` for a plain service).

    Returns:
        The tool.
    """
    return DelayedSendTool(name, description, service, handler, keyed_by_session, input_model)
