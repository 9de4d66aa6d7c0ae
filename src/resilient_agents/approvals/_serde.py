"""A JSON serde through a pydantic ``TypeAdapter``. Private module."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter
from restate.serde import Serde

T = TypeVar("T")


class AdapterSerde(Serde[T], Generic[T]):
    """Round-trips models and containers of models (``list[PendingApproval]``) as JSON.

    The SDK's default serde handles a bare pydantic model but not a list or dict of them.

    Args:
        type_: The type of the values.
    """

    def __init__(self, type_: Any) -> None:
        self._adapter: TypeAdapter[T] = TypeAdapter(type_)

    def serialize(self, obj: T | None) -> bytes:
        """Encode ``obj`` as JSON."""
        return self._adapter.dump_json(obj)  # type: ignore[arg-type]  # None is valid JSON (null) here.

    def deserialize(self, buf: bytes) -> T | None:
        """Decode JSON into the annotated type."""
        return self._adapter.validate_json(buf)
