"""What a model call writes to the Restate journal, and the conversion at that border.

Private module: the journal's format, not part of the public API.
"""

from __future__ import annotations

from typing import Any, Literal

from agents.items import ModelResponse, TResponseOutputItem
from agents.usage import Usage
from openai.types.responses import ResponseOutputItem
from pydantic import BaseModel, ConfigDict, TypeAdapter

_OUTPUT_ITEM: TypeAdapter[TResponseOutputItem] = TypeAdapter(ResponseOutputItem)
_USAGE: TypeAdapter[Usage] = TypeAdapter(Usage)

JOURNAL_SCHEMA_VERSION: Literal[1] = 1
"""Version of :class:`JournaledModelResponse`. Bump it, and keep reading the old one, when the shape changes."""


class JournaledModelResponse(BaseModel):
    """One model response as stored in the journal: plain JSON, versioned, independent of SDK classes.

    Output items are stored exactly as the provider sent them (only the fields that were set), so that
    after a replay the SDK rebuilds byte-identical follow-up requests: nothing is added, renamed or
    defaulted on the way through the journal.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = JOURNAL_SCHEMA_VERSION
    """Schema version of this record."""
    output: list[dict[str, Any]]
    """The response's output items (messages, tool calls, reasoning), each as the JSON the provider sent."""
    usage: dict[str, Any]
    """Token usage of the call."""
    response_id: str | None = None
    """The provider's response id, when it has one (Responses API)."""
    request_id: str | None = None
    """The provider's request id, when it has one."""

    @classmethod
    def from_model_response(cls, response: ModelResponse) -> JournaledModelResponse:
        """Convert the SDK's response into the journal record."""
        return cls(
            output=[_dump_item(item) for item in response.output],
            usage=_USAGE.dump_python(response.usage, mode="json"),
            response_id=response.response_id,
            request_id=response.request_id,
        )

    def to_model_response(self) -> ModelResponse:
        """Rebuild the SDK's response from the journal record."""
        return ModelResponse(
            output=[_OUTPUT_ITEM.validate_python(item) for item in self.output],
            usage=_USAGE.validate_python(self.usage),
            response_id=self.response_id,
            request_id=self.request_id,
        )


def _dump_item(item: TResponseOutputItem) -> dict[str, Any]:
    # Only fields that were set: a field the provider did not send must not appear after the round trip,
    # or the SDK's ``to_input_items`` (which dumps with ``exclude_unset``) would send it back to the model.
    return item.model_dump(mode="json", exclude_unset=True, by_alias=True)


TOOL_RESULT_SCHEMA_VERSION: Literal[1] = 1
"""Version of :class:`JournaledToolResult`."""


class JournaledToolResult(BaseModel):
    """One durable tool call as stored in the journal: what it returned and the run context after it.

    Replaying the step returns this record instead of running the tool again; the context is applied to the
    live run context, so a change the tool made survives a crash later in the turn.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = TOOL_RESULT_SCHEMA_VERSION
    """Schema version of this record."""
    output: Any
    """The tool's return value as JSON."""
    context: Any = None
    """The run context after the tool ran (JSON), when the tool takes the run context."""

    @classmethod
    def from_journal(cls, value: Any) -> JournaledToolResult:
        """Read a journaled value; one written before results carried the context is the bare output."""
        try:
            return cls.model_validate(value)
        except ValueError:
            return cls(output=value)
