"""Tool kind (b): a handler of a Restate Service, Virtual Object or Workflow, called durably. Private module."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from typing import Any, Literal, TypeAlias

import restate
from pydantic import BaseModel

from .._settings import LoopSettings
from .._types import ToolCallRequest, ToolDefinition
from ._base import (
    ArgumentError,
    LoopToolContext,
    Pending,
    ToolStart,
    decode_call_output,
    object_schema,
    parse_arguments,
    started,
    validate_arguments,
)

TargetKind = Literal["service", "object", "workflow"]
"""What a :class:`HandlerTool` calls."""
WorkflowKey: TypeAlias = Callable[[LoopToolContext, BaseModel | None], str]
"""Computes a workflow's key from the loop's context and the validated arguments (never the model's text)."""


@dataclasses.dataclass(frozen=True)
class HandlerTool:
    """A handler of a Restate Service, Virtual Object or Workflow, called durably as one tool call.

    Build it with :func:`service_tool`, :func:`object_tool` or :func:`workflow_tool`. A Virtual Object is
    always addressed by the SESSION's key (the model cannot name another one: the schema has no key), so a
    tool on ``Account`` in customer A's session can only ever reach ``Account/A``.
    """

    name: str
    """The tool's name, as the model sees it."""
    description: str
    """What the tool does, for the model."""
    service: str
    """The Restate service, object or workflow name."""
    handler: str
    """The handler's name."""
    kind: TargetKind = "service"
    """What is called."""
    input_model: type[BaseModel] | None = None
    """The handler's input as the model fills it; ``None`` for a handler without input."""
    session_key_field: str | None = None
    """If set, the loop adds the session key to the input under this name (the model never sees the field)."""
    workflow_key: WorkflowKey | None = None
    """For workflows: computes the workflow key; ``None`` uses the session key."""

    def __post_init__(self) -> None:
        field = self.session_key_field
        if field is not None and self.input_model is not None and field in self.input_model.model_fields:
            raise ValueError(
                f"tool {self.name!r}: {self.input_model.__name__} has a field {field!r}, which the loop fills from "
                "the session; remove it from the model so the LLM cannot set it"
            )

    def definition(self) -> ToolDefinition:
        """The tool as offered to the model."""
        return ToolDefinition(name=self.name, description=self.description, parameters=object_schema(self.input_model))

    def start(
        self, ctx: restate.Context, call: ToolCallRequest, tool_ctx: LoopToolContext, settings: LoopSettings
    ) -> ToolStart:
        """Validate the call's arguments and start the durable call (not awaited here)."""
        return started(self.name, lambda: self._start(ctx, call, tool_ctx))

    def _start(self, ctx: restate.Context, call: ToolCallRequest, tool_ctx: LoopToolContext) -> ToolStart:
        args = validate_arguments(self.input_model, self.name, parse_arguments(call))
        if self.session_key_field is not None and not tool_ctx.session_key:
            raise ArgumentError(f"{self.name!r} acts for the session's owner and needs a session; there is none")
        payload = _payload(args, self.session_key_field, tool_ctx)
        key = self._key(tool_ctx, args)
        return Pending(ctx.generic_call(self.service, self.handler, payload, key=key), decode_call_output)

    def _key(self, tool_ctx: LoopToolContext, args: BaseModel | None) -> str | None:
        if self.kind == "service":
            return None
        key = (
            self.workflow_key(tool_ctx, args) if self.kind == "workflow" and self.workflow_key else tool_ctx.session_key
        )
        if not key:
            raise ArgumentError(f"{self.name!r} acts on the session's own record and needs a session; there is none")
        return key


def _payload(args: BaseModel | None, session_key_field: str | None, tool_ctx: LoopToolContext) -> bytes:
    data: dict[str, Any] | None = None if args is None else args.model_dump(mode="json", by_alias=True)
    if session_key_field is not None:
        data = {**(data or {}), session_key_field: tool_ctx.session_key}
    return b"" if data is None else json.dumps(data).encode()


def service_tool(
    name: str,
    service: str,
    handler: str,
    *,
    description: str,
    input_model: type[BaseModel] | None = None,
    session_key_field: str | None = None,
) -> HandlerTool:
    """A tool that calls a handler of a Restate Service durably (one journaled call).

    Args:
        name: The tool's name, as the model sees it.
        service: The service name.
        handler: The handler name.
        description: What the tool does, for the model.
        input_model: The handler's input, filled by the model; ``None`` for a handler without input.
        session_key_field: If set, the loop adds the session key under this name (hidden from the model).

    Returns:
        The tool.
    """
    return HandlerTool(name, description, service, handler, "service", input_model, session_key_field)


def object_tool(
    name: str,
    object_name: str,
    handler: str,
    *,
    description: str,
    input_model: type[BaseModel] | None = None,
) -> HandlerTool:
    """A tool that calls a handler of a Virtual Object keyed by the SESSION's key (identity bound to the session).

    The model cannot choose the key: it is not in the tool's schema, and arguments the input model does not
    declare are rejected. In the session of customer ``A`` the tool only ever calls ``<object_name>/A``.

    Args:
        name: The tool's name, as the model sees it.
        object_name: The Virtual Object's name (e.g. ``Account``).
        handler: The handler name.
        description: What the tool does, for the model.
        input_model: The handler's input, filled by the model; ``None`` for a handler without input.

    Returns:
        The tool.
    """
    return HandlerTool(name, description, object_name, handler, "object", input_model)


def workflow_tool(
    name: str,
    workflow: str,
    handler: str = "run",
    *,
    description: str,
    input_model: type[BaseModel] | None = None,
    key: WorkflowKey | None = None,
    session_key_field: str | None = None,
) -> HandlerTool:
    """A tool that calls a Workflow's handler durably; the loop (not the model) computes the workflow key.

    Args:
        name: The tool's name, as the model sees it.
        workflow: The workflow's name.
        handler: The handler name (``run`` starts the workflow).
        description: What the tool does, for the model.
        input_model: The handler's input, filled by the model.
        key: Computes the workflow key from the :class:`LoopToolContext` and the validated input (e.g.
            ``lambda tc, args: unique_key(tc, "loan")``); ``None`` uses the session key.
        session_key_field: If set, the loop adds the session key under this name (hidden from the model).

    Returns:
        The tool.
    """
    return HandlerTool(name, description, workflow, handler, "workflow", input_model, session_key_field, key)


def unique_key(tool_ctx: LoopToolContext, prefix: str) -> str:
    """A key that names one tool call uniquely and stays the same on replay, e.g. ``loan-alice-3f9a2c0b1d``.

    Made from the session key and a short hash of the turn's invocation id and the call id, so two calls never
    share a workflow, while a retried or replayed call reuses its own.

    Args:
        tool_ctx: The call's context.
        prefix: Starts the key (e.g. ``"loan"``).

    Returns:
        The key.
    """
    digest = hashlib.sha256(f"{tool_ctx.invocation_id}/{tool_ctx.call_id}".encode()).hexdigest()[:10]
    return "-".join(part for part in (prefix, tool_ctx.session_key, digest) if part)
