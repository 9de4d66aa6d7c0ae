"""The tool kinds of the native loop. Private package: import from :mod:`resilient_agents.loop`.

Every tool call is exactly ONE durable action: a single ``ctx.run_typed`` step (:class:`LoopFunctionTool`), a
single durable call (:class:`HandlerTool`, :class:`AgentTool`) or a single durable send
(:class:`DelayedSendTool`). That is what lets the loop start all tool calls of one model response in
tool-call order and await them together: each call adds exactly one journal entry at a position fixed by the
model's (journaled) answer, so a replay meets the same entries in the same order however the tools interleave
at run time. A tool that needs several steps (a transfer with compensations, an approval) belongs in a Restate
service handler, with its own journal, and is offered to the model as a :class:`HandlerTool`.

Arguments are validated before any durable action: a call with arguments the tool does not declare (say a
``customer_id`` the model made up) is rejected with a message to the model and never reaches the target.
"""

from __future__ import annotations

from typing import TypeAlias

from ._base import LoopToolContext, Pending, Ready, ToolStart
from ._delayed_send import DelayedSendTool, delayed_send_tool
from ._function import LoopFunctionTool, loop_tool
from ._handler import HandlerTool, TargetKind, WorkflowKey, object_tool, service_tool, unique_key, workflow_tool
from ._remote_agent import AgentTool, agent_tool

LoopTool: TypeAlias = LoopFunctionTool | HandlerTool | AgentTool | DelayedSendTool
"""Any tool a :class:`LoopAgent` can use."""

__all__ = [
    "AgentTool",
    "DelayedSendTool",
    "HandlerTool",
    "LoopFunctionTool",
    "LoopToolContext",
    "Pending",
    "Ready",
    "TargetKind",
    "Tool",
    "ToolStart",
    "WorkflowKey",
    "agent_tool",
    "delayed_send_tool",
    "loop_tool",
    "object_tool",
    "service_tool",
    "unique_key",
    "workflow_tool",
]
