"""Tool kind (c): another agent, served by its own Restate service, used as a tool. Private module."""

from __future__ import annotations

import dataclasses
import json

import restate
from pydantic import BaseModel, ConfigDict, Field

from .._settings import LoopSettings
from .._types import ToolCallRequest, ToolDefinition
from ._base import (
    LoopToolContext,
    Pending,
    ToolStart,
    decode_call_output,
    object_schema,
    parse_arguments,
    started,
    validate_arguments,
)


class _AgentInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: str = Field(description="The request for the other agent, in plain language.")


@dataclasses.dataclass(frozen=True)
class AgentTool:
    """Another agent, served by its own Restate service, used as a tool: one durable call, its own journal."""

    name: str
    """The tool's name, as the model sees it."""
    description: str
    """What the other agent does, for the model."""
    service: str
    """The other agent's service (e.g. one built by :func:`loop_agent_service`) or session object."""
    handler: str = "run"
    """The handler taking a message (JSON string) and answering with text."""
    keyed_by_session: bool = False
    """Whether the target is a Virtual Object to be called with the session's key (a per-session sub-agent)."""

    def definition(self) -> ToolDefinition:
        """The tool as offered to the model."""
        return ToolDefinition(name=self.name, description=self.description, parameters=object_schema(_AgentInput))

    def start(
        self, ctx: restate.Context, call: ToolCallRequest, tool_ctx: LoopToolContext, settings: LoopSettings
    ) -> ToolStart:
        """Validate the call's arguments and start the durable call to the other agent (not awaited here)."""
        return started(self.name, lambda: self._start(ctx, call, tool_ctx))

    def _start(self, ctx: restate.Context, call: ToolCallRequest, tool_ctx: LoopToolContext) -> ToolStart:
        args = validate_arguments(_AgentInput, self.name, parse_arguments(call))
        assert isinstance(args, _AgentInput)
        key = tool_ctx.session_key if self.keyed_by_session else None
        body = json.dumps(args.input).encode()
        return Pending(ctx.generic_call(self.service, self.handler, body, key=key), decode_call_output)


def agent_tool(
    name: str, service: str, *, description: str, handler: str = "run", keyed_by_session: bool = False
) -> AgentTool:
    """Use another agent (a remote agent with its own service and journal) as a tool.

    Args:
        name: The tool's name, as the model sees it.
        service: The other agent's Restate service (or Virtual Object with ``keyed_by_session``).
        description: What the other agent does, for the model.
        handler: Its handler taking a message and answering with text.
        keyed_by_session: Call a Virtual Object with the session's key instead of a stateless service.

    Returns:
        The tool.
    """
    return AgentTool(name, description, service, handler, keyed_by_session)
