"""A Restate serde for any type pydantic can validate. Private module."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter
from restate.serde import Serde

T = TypeVar("T")


class TypeAdapterSerde(Serde[T], Generic[T]):
    """JSON (de)serialization through a pydantic :class:`TypeAdapter`.

    Unlike the SDK's default serde it round-trips pydantic models, dataclasses, ``TypedDict``s and
    containers of them back into the annotated type, so replayed values equal first-run values.

    Args:
        type_: The type of the values (``Any`` for plain JSON).
    """

    def __init__(self, type_: Any) -> None:
        self._adapter: TypeAdapter[T] = TypeAdapter(type_)

    def serialize(self, obj: T | None) -> bytes:
        """Encode ``obj`` as JSON."""
        return self._adapter.dump_json(obj)  # type: ignore[arg-type]  # None is valid JSON (null) here.

    def deserialize(self, buf: bytes) -> T | None:
        """Decode JSON into the annotated type."""
        return self._adapter.validate_json(buf)
